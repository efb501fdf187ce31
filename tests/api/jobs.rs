//! `POST /v1/jobs`: the job lands in the Redis queue as submitted, a second submission is a
//! duplicate, and every contract rule answers 422 naming its field.

use bulkleave::job::LeaveJob;
use serde_json::{Value, json};

use crate::support::{GROUP, OTHER_TOKEN, TOKEN, TestApi};

#[tokio::test]
async fn a_job_is_queued_once_and_its_duplicate_reported() {
    let api = TestApi::start(&[]).await;
    let body = json!({"provider": "wasend", "account": "w", "group": GROUP, "campaign": "c1"});
    let created = api
        .call("POST", "/v1/jobs", Some(TOKEN), Some(body.clone()))
        .await;
    let created = created.ok(201);
    assert_eq!(created["status"], "queued");
    let id = created["job_id"].as_str().unwrap().to_owned();
    assert_eq!(api.queue.stats().await.unwrap().ready, 1);

    // The same request again, from another caller: a duplicate, nothing added.
    let dup = api
        .call("POST", "/v1/jobs", Some(OTHER_TOKEN), Some(body))
        .await;
    assert_eq!(
        dup.ok(200),
        &json!({"status": "duplicate", "existing_job": id, "finished": false})
    );
    assert_eq!(api.queue.stats().await.unwrap().ready, 1);

    // An explicit requested_by and idempotency key are kept; the caller here is hr-system.
    let other = json!({"provider": "kirimin", "account": "k", "group": "6228482",
        "idempotency_key": "hr-4711", "requested_by": "payroll", "v": "1"});
    api.call("POST", "/v1/jobs", Some(OTHER_TOKEN), Some(other))
        .await
        .ok(201);
    let third = json!({"provider": "kirimin", "account": "k", "group": "6228483"});
    api.call("POST", "/v1/jobs", Some(OTHER_TOKEN), Some(third))
        .await
        .ok(201);
    let jobs: Vec<LeaveJob> = api.deliver(10).await.into_iter().map(|d| d.job).collect();
    assert_eq!(jobs.len(), 3);
    let job = &jobs[0];
    assert_eq!(job.id.to_string(), id);
    assert_eq!(job.request.account.as_str(), "w");
    assert_eq!(job.request.group.as_str(), GROUP);
    assert_eq!(
        job.campaign.as_ref().map(|c| c.to_string()).as_deref(),
        Some("c1")
    );
    assert_eq!(
        job.requested_by.as_deref(),
        Some("ci"),
        "defaults to the caller"
    );
    assert_eq!(jobs[1].idempotency_key.as_str(), "hr-4711");
    assert_eq!(jobs[1].requested_by.as_deref(), Some("payroll"));
    assert_eq!(jobs[2].requested_by.as_deref(), Some("hr-system"));
    api.cleanup().await;
}

#[tokio::test]
async fn invalid_jobs_name_their_field_and_queue_nothing() {
    let api = TestApi::start(&[]).await;
    let ok = |extra: Value| {
        let mut v = json!({"provider": "wasend", "account": "w", "group": GROUP});
        for (k, x) in extra.as_object().unwrap() {
            v[k] = x.clone();
        }
        v
    };
    let cases: Vec<(Value, &str, &str)> = vec![
        (
            json!({"account": "w", "group": GROUP}),
            "provider",
            "missing",
        ),
        (
            ok(json!({"grup": "1"})),
            "fields",
            "\"grup\" is not a field",
        ),
        (
            ok(json!({"provider": "telegram"})),
            "provider",
            "unknown provider",
        ),
        (
            ok(json!({"account": "nobody"})),
            "account",
            "not a configured account",
        ),
        (
            ok(json!({"account": "k"})),
            "provider",
            "is a kirimin account",
        ),
        (ok(json!({"group": 5})), "group", "must be a string"),
        (ok(json!({"campaign": "no spaces"})), "campaign", ""),
        (ok(json!({"requested_by": ""})), "requested_by", "1-128"),
        (ok(json!({"v": "2"})), "v", "not supported"),
    ];
    for (body, field, rule) in cases {
        let answer = api
            .call("POST", "/v1/jobs", Some(TOKEN), Some(body.clone()))
            .await;
        answer.problem(422, "invalid_job");
        assert_eq!(answer.json["field"], field, "{body}");
        let detail = answer.json["detail"].as_str().unwrap();
        assert!(
            detail.starts_with(&format!("{field}: ")),
            "{body}: {detail}"
        );
        assert!(detail.contains(rule), "{body}: {detail}");
    }
    assert_eq!(api.queue.stats().await.unwrap().ready, 0);
    api.cleanup().await;
}

#[tokio::test]
async fn a_closed_or_cancelled_campaign_refuses_single_jobs() {
    let api = crate::campaigns::api_with_db(&[]).await;
    let job = |campaign: &str| json!({"provider": "wasend", "account": "w", "group": GROUP, "campaign": campaign});
    for (campaign, action) in [("shut", "close"), ("gone", "cancel")] {
        api.call(
            "POST",
            "/v1/campaigns",
            Some(TOKEN),
            Some(json!({"id": campaign, "keep_open": true, "items": []})),
        )
        .await
        .ok(201);
        api.call(
            "POST",
            &format!("/v1/campaigns/{campaign}/{action}"),
            Some(TOKEN),
            None,
        )
        .await
        .ok(200);
        let refused = api
            .call("POST", "/v1/jobs", Some(TOKEN), Some(job(campaign)))
            .await;
        refused.problem(422, "invalid_job");
        assert_eq!(refused.json["field"], "campaign");
        let detail = refused.json["detail"].as_str().unwrap();
        assert!(detail.contains("takes no more items"), "{detail}");
    }
    assert_eq!(api.queue.stats().await.unwrap().ready, 0);
    // An open campaign takes them.
    api.call("POST", "/v1/jobs", Some(TOKEN), Some(job("open-one")))
        .await
        .ok(201);
    assert_eq!(api.queue.stats().await.unwrap().ready, 1);
    api.cleanup().await;
}
