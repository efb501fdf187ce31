//! Every error answer is an RFC 9457 problem with its stable code, axum's own rejections and
//! the layers' answers included (the shape is checked for every answer by `support::Answer`).

use axum::body::Body;
use axum::http::{Request, header};
use serde_json::json;

use crate::support::{GROUP, MAX_BODY, TOKEN, TestApi};

fn post(uri: &str, content_type: Option<&str>, body: impl Into<Body>) -> Request<Body> {
    let mut r = Request::post(uri).header(header::AUTHORIZATION, format!("Bearer {TOKEN}"));
    if let Some(ct) = content_type {
        r = r.header(header::CONTENT_TYPE, ct);
    }
    r.body(body.into()).unwrap()
}

#[tokio::test]
async fn problems_for_each_status() {
    let api = TestApi::start(&[]).await;
    let json = Some("application/json");

    // 400: malformed JSON, a JSON value that is not an object, a bad query.
    api.send(post("/v1/jobs", json, "{\"provider\":"))
        .await
        .problem(400, "invalid_json");
    api.send(post("/v1/jobs", json, "[1,2]"))
        .await
        .problem(400, "invalid_json");
    api.call("GET", "/v1/dead-letters?limit=many", Some(TOKEN), None)
        .await
        .problem(400, "invalid_request");
    // 404: no route (with or without a token), and an unknown resource.
    for token in [None, Some(TOKEN)] {
        api.call("GET", "/v2/nothing", token, None)
            .await
            .problem(404, "route_not_found");
    }
    api.call("GET", "/v1/accounts/nobody", Some(TOKEN), None)
        .await
        .problem(404, "not_found");
    // 405, with the methods allowed.
    let answer = api.call("DELETE", "/v1/jobs", Some(TOKEN), None).await;
    answer.problem(405, "method_not_allowed");
    assert_eq!(answer.headers[header::ALLOW], "POST");
    api.call("PUT", "/healthz", None, None)
        .await
        .problem(405, "method_not_allowed");
    // 413: beyond api.max_body_bytes, with and without a Content-Length.
    let big = json!({"provider": "wasend", "account": "w", "group": "x".repeat(MAX_BODY)});
    api.send(post("/v1/jobs", json, big.to_string()))
        .await
        .problem(413, "payload_too_large");
    let stream = Body::from_stream(futures_util::stream::iter(
        (0..8).map(|_| Ok::<_, std::io::Error>(vec![b' '; MAX_BODY / 4])),
    ));
    api.send(post("/v1/jobs", json, stream))
        .await
        .problem(413, "payload_too_large");
    // 415: no or another content type.
    let body = json!({"provider": "wasend", "account": "w", "group": GROUP}).to_string();
    api.send(post("/v1/jobs", None, body.clone()))
        .await
        .problem(415, "unsupported_media_type");
    api.send(post("/v1/jobs", Some("text/plain"), body))
        .await
        .problem(415, "unsupported_media_type");
    // 422: an invalid job names its field.
    let answer = api
        .call(
            "POST",
            "/v1/jobs",
            Some(TOKEN),
            Some(json!({"provider": "wasend", "account": "w", "group": "79001234567@c.us"})),
        )
        .await;
    answer.problem(422, "invalid_job");
    assert_eq!(answer.json["field"], "group");
    api.cleanup().await;
}
