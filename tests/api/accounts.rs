//! Accounts through the API: the same report as `bulkleave account list`, one account, and
//! resuming a paused one puts its parked jobs back in the queue.

use bulkleave::queue::AttemptRecord;
use serde_json::json;

use crate::support::{GROUP, TOKEN};

#[tokio::test]
async fn list_show_pause_and_resume() {
    // A ledger of its own: resuming is an operator action, kept in the audit trail.
    let api = crate::campaigns::api_with_db(&[]).await;
    let list = api.call("GET", "/v1/accounts", Some(TOKEN), None).await;
    let accounts = list.ok(200)["accounts"].as_array().unwrap().clone();
    let names: Vec<&str> = accounts
        .iter()
        .map(|a| a["account"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["k", "w"]);
    let w = &accounts[1];
    assert_eq!(w["provider"], "wasend");
    assert_eq!(w["quota"], "100000/s");
    assert_eq!(w["state"], "active");
    assert_eq!(w["eta"]["state"], "idle");
    assert_eq!(
        (w["backlog"].as_u64(), w["parked"].as_u64()),
        (Some(0), Some(0))
    );
    assert!(w["effective_per_second"].as_f64().unwrap() > 0.0);
    assert_eq!(accounts[0]["quota"], "30/min", "kirimin's default");

    // Pause w with one job parked, as a worker does after an account error.
    let body = json!({"provider": "wasend", "account": "w", "group": GROUP});
    api.call("POST", "/v1/jobs", Some(TOKEN), Some(body))
        .await
        .ok(201);
    let d = api.deliver(1).await.remove(0);
    let failure = AttemptRecord {
        at_ms: 1,
        class: "account_error".into(),
        detail: "HTTP 401: Invalid API key".into(),
        http_status: Some(401),
    };
    let reason = "account_error: HTTP 401: Invalid API key";
    assert!(
        api.queue
            .pause_account("t", &d, &d.job, reason, &failure)
            .await
            .unwrap()
    );

    let shown = api.call("GET", "/v1/accounts/w", Some(TOKEN), None).await;
    let shown = shown.ok(200);
    assert_eq!(shown["state"], "paused");
    assert_eq!(shown["paused"], reason);
    assert_eq!(
        (shown["parked"].as_u64(), shown["backlog"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(shown["eta"]["state"], "paused");
    api.call("GET", "/v1/accounts/nobody", Some(TOKEN), None)
        .await
        .problem(404, "not_found");
    api.call("GET", "/v1/accounts/Bad%20Name", Some(TOKEN), None)
        .await
        .problem(404, "not_found");

    let resumed = api
        .call("POST", "/v1/accounts/w/resume", Some(TOKEN), None)
        .await;
    assert_eq!(
        resumed.ok(200),
        &json!({"account": "w", "was_paused": true, "requeued": 1})
    );
    let shown = api.call("GET", "/v1/accounts/w", Some(TOKEN), None).await;
    assert_eq!(shown.ok(200)["state"], "active");
    assert_eq!(
        api.queue.stats().await.unwrap().ready,
        1,
        "the parked job is back"
    );
    let again = api
        .call("POST", "/v1/accounts/w/resume", Some(TOKEN), None)
        .await;
    assert_eq!(again.ok(200)["was_paused"], false);
    let trail = api
        .call("GET", "/v1/audit?target=account:w", Some(TOKEN), None)
        .await;
    let entries = trail.ok(200)["entries"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let actions: Vec<(&str, &str)> = entries
        .iter()
        .map(|e| (e["action"].as_str().unwrap(), e["actor"].as_str().unwrap()))
        .collect();
    assert_eq!(actions.len(), 2, "{entries:?}");
    assert!(
        actions.iter().all(|(a, _)| *a == "account.resume"),
        "{actions:?}"
    );
    api.call("POST", "/v1/accounts/nobody/resume", Some(TOKEN), None)
        .await
        .problem(404, "not_found");
    api.cleanup().await;
}
