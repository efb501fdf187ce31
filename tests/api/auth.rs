//! Bearer tokens: who gets in, who gets 401, and that the public endpoints stay public.

use axum::body::Body;
use axum::http::{Request, header};

use crate::support::{OTHER_TOKEN, TOKEN, TestApi};

#[tokio::test]
async fn every_authenticated_endpoint_refuses_a_missing_or_wrong_token() {
    let api = TestApi::start(&[]).await;
    let endpoints = [
        ("GET", "/v1/accounts"),
        ("GET", "/v1/accounts/w"),
        ("POST", "/v1/accounts/w/resume"),
        ("POST", "/v1/jobs"),
        ("GET", "/v1/dead-letters"),
        ("POST", "/v1/dead-letters/x/requeue"),
        ("POST", "/v1/dead-letters/requeue"),
    ];
    let same_length_wrong: String = TOKEN
        .chars()
        .map(|c| if c == '5' { '6' } else { c })
        .collect();
    assert_eq!(same_length_wrong.len(), TOKEN.len());
    assert_ne!(same_length_wrong, TOKEN);
    let authorizations: Vec<Option<String>> = vec![
        None,
        Some(format!("Basic {TOKEN}")),
        Some(TOKEN.to_owned()),
        Some("Bearer".to_owned()),
        Some(format!("Bearer {same_length_wrong}")),
        Some(format!("Bearer {TOKEN}x")),
        Some("Bearer short".to_owned()),
        Some(format!("Bearer {}", &TOKEN[..TOKEN.len() - 1])),
    ];
    for (method, uri) in endpoints {
        for authorization in &authorizations {
            let mut request = Request::builder().method(method).uri(uri);
            if let Some(a) = authorization {
                request = request.header(header::AUTHORIZATION, a);
            }
            let answer = api.send(request.body(Body::empty()).unwrap()).await;
            answer.problem(401, "unauthorized");
            assert_eq!(
                answer.headers[header::WWW_AUTHENTICATE],
                "Bearer",
                "{method} {uri} {authorization:?}"
            );
        }
    }
    // Both configured tokens get in; the scheme is case-insensitive.
    for token in [TOKEN, OTHER_TOKEN] {
        api.call("GET", "/v1/accounts", Some(token), None)
            .await
            .ok(200);
    }
    let lower = Request::get("/v1/accounts")
        .header(header::AUTHORIZATION, format!("bearer {TOKEN}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(api.send(lower).await.status, 200);
    api.cleanup().await;
}

#[tokio::test]
async fn probes_and_the_document_are_public() {
    let api = TestApi::start(&[]).await;
    for uri in ["/healthz", "/readyz", "/openapi.json"] {
        api.call("GET", uri, None, None).await.ok(200);
    }
    api.cleanup().await;
}

#[tokio::test]
async fn without_configured_tokens_nothing_authenticated_is_open() {
    // The test environment's token variables point nowhere when the tokens are removed:
    // build one without any.
    let redis = crate::common::redis_settings();
    let mut env = crate::support::env(&redis, &[]);
    env.retain(|k, _| !k.starts_with("BULKLEAVE__API__TOKENS"));
    let settings = bulkleave::config::load_with_env(None, &env).unwrap();
    assert!(settings.api.tokens.is_empty());
    let state = bulkleave::api::AppState::connect(std::sync::Arc::new(settings))
        .await
        .unwrap();
    let app = bulkleave::api::app(state);
    for authorization in [
        None,
        Some(format!("Bearer {TOKEN}")),
        Some("Bearer ".into()),
    ] {
        let mut request = Request::get("/v1/accounts");
        if let Some(a) = &authorization {
            request = request.header(header::AUTHORIZATION, a);
        }
        let response =
            tower::ServiceExt::oneshot(app.clone(), request.body(Body::empty()).unwrap())
                .await
                .unwrap();
        assert_eq!(response.status(), 401, "{authorization:?}");
    }
    crate::common::drop_prefix(&redis.key_prefix).await;
}
