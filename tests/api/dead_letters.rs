//! Dead letters through the API: listed with reason and history, requeued one by one, by ids
//! or all; the answers for what cannot be requeued.

use serde_json::json;

use crate::support::{GROUP, TOKEN, TestApi};

const REASON: &str = "attempts exhausted (5 of 5): provider_error: HTTP 502";

async fn submit(api: &TestApi) -> String {
    let body = json!({"provider": "wasend", "account": "w", "group": GROUP, "campaign": "c1"});
    let answer = api.call("POST", "/v1/jobs", Some(TOKEN), Some(body)).await;
    answer.ok(201)["job_id"].as_str().unwrap().to_owned()
}

/// The actions of the audit trail on `job:ID`, newest first, each checked to name the caller.
async fn requeue_audits(api: &TestApi, id: &str) -> Vec<String> {
    let uri = format!("/v1/audit?target=job:{id}");
    let trail = api.call("GET", &uri, Some(TOKEN), None).await;
    let entries = trail.ok(200)["entries"].as_array().unwrap().clone();
    entries
        .iter()
        .map(|e| {
            assert_eq!(e["actor"], "ci", "{e}");
            e["action"].as_str().unwrap().to_owned()
        })
        .collect()
}

#[tokio::test]
async fn list_and_requeue_dead_letters() {
    // A ledger of its own: requeuing is an operator action, kept in the audit trail.
    let api = crate::campaigns::api_with_db(&[]).await;
    let id = submit(&api).await;
    assert_eq!(api.dead_letter_next(REASON).await, id);

    let page = api.call("GET", "/v1/dead-letters", Some(TOKEN), None).await;
    let page = page.ok(200);
    assert_eq!(
        (page["total"].as_u64(), page["offset"].as_u64()),
        (Some(1), Some(0))
    );
    assert_eq!(page["limit"], 100);
    let dead = &page["dead_letters"][0];
    assert_eq!(dead["id"], id);
    assert_eq!(dead["reason"], REASON);
    assert_eq!(dead["poison"], false);
    assert_eq!(dead["history"][0]["http_status"], 502);
    assert_eq!(dead["history"][0]["class"], "provider_error");
    assert_eq!(dead["job"]["account"], "w");
    assert_eq!(dead["job"]["campaign"], "c1");
    assert_eq!(dead["job"]["requested_by"], "ci");
    let later = api
        .call(
            "GET",
            "/v1/dead-letters?offset=1&limit=5",
            Some(TOKEN),
            None,
        )
        .await;
    assert_eq!(later.ok(200)["dead_letters"], json!([]));
    for bad in ["limit=1001", "offset=-1", "limit=x"] {
        api.call("GET", &format!("/v1/dead-letters?{bad}"), Some(TOKEN), None)
            .await
            .problem(400, "invalid_request");
    }

    // One by id.
    let uri = format!("/v1/dead-letters/{id}/requeue");
    let answer = api.call("POST", &uri, Some(TOKEN), None).await;
    assert_eq!(answer.ok(200), &json!({"id": id, "result": "requeued"}));
    let stats = api.queue.stats().await.unwrap();
    assert_eq!((stats.ready, stats.dead), (1, 0));
    api.call("POST", &uri, Some(TOKEN), None)
        .await
        .problem(404, "not_found");

    // By ids: one result each, in order.
    api.dead_letter_next(REASON).await;
    let body = json!({"ids": [id, "no-such-job"]});
    let answer = api
        .call("POST", "/v1/dead-letters/requeue", Some(TOKEN), Some(body))
        .await;
    assert_eq!(
        answer.ok(200),
        &json!({"requeued": 1, "results": [
            {"id": id, "result": "requeued"},
            {"id": "no-such-job", "result": "not_dead"},
        ]})
    );
    // Audited like the one by id: one entry per job requeued, none for the rest.
    assert_eq!(
        requeue_audits(&api, &id).await,
        ["dead_letter.requeue", "dead_letter.requeue"]
    );
    assert!(requeue_audits(&api, "no-such-job").await.is_empty());

    // All.
    api.dead_letter_next(REASON).await;
    let answer = api
        .call(
            "POST",
            "/v1/dead-letters/requeue",
            Some(TOKEN),
            Some(json!({"all": true})),
        )
        .await;
    assert_eq!(answer.ok(200), &json!({"requeued": 1}));
    let stats = api.queue.stats().await.unwrap();
    assert_eq!((stats.ready, stats.dead), (1, 0));

    // Neither, both, an empty list, or an unknown field.
    for body in [
        json!({}),
        json!({"all": false}),
        json!({"ids": [id], "all": true}),
        json!({"ids": []}),
    ] {
        api.call("POST", "/v1/dead-letters/requeue", Some(TOKEN), Some(body))
            .await
            .problem(400, "invalid_request");
    }
    api.call(
        "POST",
        "/v1/dead-letters/requeue",
        Some(TOKEN),
        Some(json!({"every": true})),
    )
    .await
    .problem(400, "invalid_json");
    api.cleanup().await;
}
