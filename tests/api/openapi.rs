//! The OpenAPI document and the router cannot drift: the document lists exactly the
//! endpoints, each of them is routed (with its method, and only it), and the authenticated
//! ones declare the bearer scheme.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::support::{TOKEN, TestApi};

const PUBLIC: [(&str, &str); 4] = [
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/openapi.json"),
    ("get", "/metrics"),
];
const AUTHENTICATED: [(&str, &str); 18] = [
    ("post", "/v1/jobs"),
    ("get", "/v1/dead-letters"),
    ("post", "/v1/dead-letters/{id}/requeue"),
    ("post", "/v1/dead-letters/requeue"),
    ("get", "/v1/accounts"),
    ("get", "/v1/accounts/{name}"),
    ("post", "/v1/accounts/{name}/resume"),
    ("post", "/v1/campaigns"),
    ("get", "/v1/campaigns"),
    ("get", "/v1/campaigns/{id}"),
    ("post", "/v1/campaigns/{id}/items"),
    ("get", "/v1/campaigns/{id}/items"),
    ("get", "/v1/campaigns/{id}/report"),
    ("post", "/v1/campaigns/{id}/pause"),
    ("post", "/v1/campaigns/{id}/resume"),
    ("post", "/v1/campaigns/{id}/cancel"),
    ("post", "/v1/campaigns/{id}/close"),
    ("get", "/v1/audit"),
];
const METHODS: [&str; 5] = ["get", "post", "put", "delete", "patch"];

fn operations(doc: &Value) -> BTreeSet<(String, String)> {
    let mut ops = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in METHODS {
            if item.get(method).is_some() {
                ops.insert((method.to_owned(), path.clone()));
            }
        }
    }
    ops
}

/// `path` with its parameters filled in.
fn concrete(path: &str) -> String {
    path.replace("{id}", "some-id").replace("{name}", "w")
}

#[tokio::test]
async fn the_document_lists_exactly_the_routes() {
    let api = TestApi::start(&[]).await;
    let doc = api
        .call("GET", "/openapi.json", None, None)
        .await
        .ok(200)
        .clone();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let expected: BTreeSet<(String, String)> = PUBLIC
        .iter()
        .chain(&AUTHENTICATED)
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    let documented = operations(&doc);
    assert_eq!(documented, expected);

    for (method, path) in &documented {
        // Routed with its method: anything but "no route" or "wrong method".
        let answer = api
            .call(&method.to_uppercase(), &concrete(path), Some(TOKEN), None)
            .await;
        let code = answer.json["code"].as_str().unwrap_or("");
        assert!(
            !["route_not_found", "method_not_allowed"].contains(&code),
            "{method} {path} is documented but not routed: {answer:?}"
        );
        // No other method is routed on a documented path.
        for other in METHODS
            .iter()
            .filter(|m| !documented.contains(&(m.to_string(), path.clone())))
        {
            api.call(&other.to_uppercase(), &concrete(path), Some(TOKEN), None)
                .await
                .problem(405, "method_not_allowed");
        }
        let security = &doc["paths"][path][method]["security"];
        if PUBLIC.contains(&(method.as_str(), path.as_str())) {
            assert!(security.is_null(), "{method} {path} is public: {security}");
        } else {
            assert_eq!(
                security,
                &serde_json::json!([{"bearer": []}]),
                "{method} {path}"
            );
            // And it is enforced: without a token, or with an unknown one, nothing runs.
            for token in [None, Some("not-a-configured-token")] {
                api.call(&method.to_uppercase(), &concrete(path), token, None)
                    .await
                    .problem(401, "unauthorized");
            }
        }
    }
    let scheme = &doc["components"]["securitySchemes"]["bearer"];
    assert_eq!(
        (scheme["type"].as_str(), scheme["scheme"].as_str()),
        (Some("http"), Some("bearer"))
    );
    assert!(doc["components"]["schemas"]["Problem"].is_object());
    assert!(doc["components"]["schemas"]["JobSubmission"].is_object());
    for schema in [
        "NewCampaign",
        "CampaignIntake",
        "CampaignStatus",
        "ItemPage",
        "AuditTrail",
        "RequeueResult",
    ] {
        assert!(doc["components"]["schemas"][schema].is_object(), "{schema}");
    }
    api.cleanup().await;
}
