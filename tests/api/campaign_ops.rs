//! Campaign operations through the API (no workers: items stay pending): adding items to an
//! open and a closed campaign, listing with cursors, status counts, items with filters and
//! pages, the report in each format, pause/resume/cancel/close with refusals, the audit trail.

use axum::body::Body;
use axum::http::{Request, header};
use serde_json::{Value, json};

use crate::campaigns::{api_with_db, jid, post};
use crate::support::{OTHER_TOKEN, TOKEN, TestApi};

fn items(range: std::ops::Range<u32>) -> Value {
    let items: Vec<Value> = range
        .map(|i| json!({"provider": "wasend", "account": "w", "group": jid(i)}))
        .collect();
    json!(items)
}

async fn get(api: &TestApi, uri: &str) -> Value {
    api.call("GET", uri, Some(TOKEN), None)
        .await
        .ok(200)
        .clone()
}

#[tokio::test]
async fn add_list_status_items_and_state_changes() {
    let api = api_with_db(&[]).await;
    let open = json!({"id": "ops", "keep_open": true, "items": items(0..3)});
    api.call("POST", "/v1/campaigns", Some(TOKEN), Some(open))
        .await
        .ok(201);
    // Add to the open campaign: JSON, then CSV closing it.
    let added = api
        .call(
            "POST",
            "/v1/campaigns/ops/items",
            Some(TOKEN),
            Some(json!({"items": items(3..5)})),
        )
        .await;
    assert_eq!(added.ok(200)["intake"]["accepted"], 2);
    assert_eq!(added.json["campaign"]["items"], 5);
    let csv = "provider,account,group\nkirimin,k,6228001\nkirimin,k,6228002\n";
    let closed = api
        .send(post("/v1/campaigns/ops/items?close=true", "text/csv", csv))
        .await;
    let closed = closed.ok(200);
    assert_eq!(
        (
            closed["campaign"]["items"].as_i64(),
            closed["campaign"]["accepting"].as_bool()
        ),
        (Some(7), Some(false))
    );
    api.call(
        "POST",
        "/v1/campaigns/ops/items",
        Some(TOKEN),
        Some(json!({"items": items(9..10)})),
    )
    .await
    .problem(409, "campaign_closed");
    api.call(
        "POST",
        "/v1/campaigns/nope/items",
        Some(TOKEN),
        Some(json!({"items": []})),
    )
    .await
    .problem(404, "campaign_not_found");

    // List: newest first, with a cursor.
    for id in ["l1", "l2", "l3"] {
        api.call(
            "POST",
            "/v1/campaigns",
            Some(TOKEN),
            Some(json!({"id": id, "items": []})),
        )
        .await
        .ok(201);
    }
    let page = get(&api, "/v1/campaigns?limit=2").await;
    let ids = |p: &Value| -> Vec<String> {
        p["campaigns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(ids(&page), ["l3", "l2"]);
    assert_eq!(page["next"], "l2");
    let page = get(&api, "/v1/campaigns?limit=2&before=l2").await;
    assert_eq!(ids(&page), ["l1", "ops"]);
    let page = get(&api, "/v1/campaigns?limit=2&before=ops").await;
    assert!(ids(&page).is_empty() && page["next"].is_null(), "{page}");
    api.call("GET", "/v1/campaigns?limit=501", Some(TOKEN), None)
        .await
        .problem(400, "invalid_request");

    // Status and items.
    let status = get(&api, "/v1/campaigns/ops").await;
    assert_eq!(status["campaign"]["state"], "running");
    assert_eq!(status["counts"]["by_outcome"]["pending"], 7);
    assert_eq!(status["counts"]["by_account"]["w"]["pending"], 5);
    assert_eq!(status["counts"]["by_provider"]["kirimin"]["total"], 2);
    api.call("GET", "/v1/campaigns/nope", Some(TOKEN), None)
        .await
        .problem(404, "campaign_not_found");
    let mut seen = Vec::new();
    let mut uri = "/v1/campaigns/ops/items?account=w&outcome=pending&limit=2".to_owned();
    loop {
        let page = get(&api, &uri).await;
        let batch = page["items"].as_array().unwrap();
        assert!(batch.len() <= 2);
        seen.extend(
            batch
                .iter()
                .map(|i| (i["account"].clone(), i["group"].clone())),
        );
        match page["next"].as_str() {
            Some(next) => {
                uri = format!(
                    "/v1/campaigns/ops/items?account=w&outcome=pending&limit=2&after={next}"
                )
            }
            None => break,
        }
    }
    assert_eq!(seen.len(), 5, "{seen:?}");
    assert!(seen.iter().all(|(a, _)| a == "w"));
    let left = get(&api, "/v1/campaigns/ops/items?outcome=left").await;
    assert!(left["items"].as_array().unwrap().is_empty());
    api.call("GET", "/v1/campaigns/nope/items", Some(TOKEN), None)
        .await
        .problem(404, "campaign_not_found");

    // State changes, as `hr-system`.
    let change = |action: &str| format!("/v1/campaigns/ops/{action}");
    let paused = api
        .call("POST", &change("pause"), Some(OTHER_TOKEN), None)
        .await;
    assert_eq!(paused.ok(200)["state"], "paused");
    let running = api
        .call("POST", &change("resume"), Some(OTHER_TOKEN), None)
        .await;
    assert_eq!(running.ok(200)["state"], "running");
    api.call("POST", &change("close"), Some(OTHER_TOKEN), None)
        .await
        .ok(200);
    let cancelled = api
        .call("POST", &change("cancel"), Some(OTHER_TOKEN), None)
        .await;
    assert_eq!(cancelled.ok(200)["state"], "cancelled");
    let refused = api
        .call("POST", &change("resume"), Some(OTHER_TOKEN), None)
        .await;
    refused.problem(409, "campaign_state");
    assert!(
        refused.json["detail"]
            .as_str()
            .unwrap()
            .contains("cancelled"),
        "{refused:?}"
    );
    api.call("POST", &change("pause"), Some(OTHER_TOKEN), None)
        .await
        .problem(409, "campaign_state");
    api.call("POST", "/v1/campaigns/nope/pause", Some(TOKEN), None)
        .await
        .problem(404, "campaign_not_found");

    // The audit trail names the callers.
    let trail = get(&api, "/v1/audit?target=campaign:ops").await;
    let entries: Vec<(String, String)> = trail["entries"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .map(|e| {
            (
                e["actor"].as_str().unwrap().to_owned(),
                e["action"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let want = [
        ("ci", "campaign.create"),
        ("ci", "campaign.add"),
        ("ci", "campaign.add"),
        ("ci", "campaign.add"),
        ("ci", "campaign.close"),
        ("hr-system", "campaign.pause"),
        ("hr-system", "campaign.resume"),
        ("hr-system", "campaign.cancel"),
    ];
    let want: Vec<(String, String)> = want
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(entries, want);
    let all = get(&api, "/v1/audit?limit=2").await;
    assert_eq!(all["entries"].as_array().unwrap().len(), 2);
    api.cleanup().await;
}

#[tokio::test]
async fn the_report_in_each_format() {
    let api = api_with_db(&[]).await;
    let body = json!({"id": "rep", "items": items(0..3)});
    api.call("POST", "/v1/campaigns", Some(TOKEN), Some(body))
        .await
        .ok(201);
    let report = |uri: &str, accept: Option<&str>| {
        let mut r = Request::get(uri).header(header::AUTHORIZATION, format!("Bearer {TOKEN}"));
        if let Some(a) = accept {
            r = r.header(header::ACCEPT, a);
        }
        r.body(Body::empty()).unwrap()
    };
    for (uri, accept) in [
        ("/v1/campaigns/rep/report?format=csv", None),
        ("/v1/campaigns/rep/report", Some("text/csv")),
    ] {
        let csv = api.send(report(uri, accept)).await;
        assert_eq!(csv.status, 200);
        assert_eq!(csv.headers[header::CONTENT_TYPE], "text/csv; charset=utf-8");
        assert_eq!(
            csv.headers[header::CONTENT_DISPOSITION],
            "attachment; filename=\"rep.csv\""
        );
        let lines: Vec<&str> = csv.text.lines().collect();
        assert_eq!(lines[0], bulkleave::campaign::report::CSV_HEADER.trim_end());
        assert_eq!(lines.len(), 4, "{}", csv.text);
        for (n, line) in lines[1..].iter().enumerate() {
            let fields: Vec<&str> = line.split(',').collect();
            assert_eq!(
                &fields[1..7],
                [
                    &(n + 1).to_string(),
                    "wasend",
                    "w",
                    &jid(n as u32),
                    "pending",
                    ""
                ]
            );
        }
    }
    let nd = api
        .send(report(
            "/v1/campaigns/rep/report",
            Some("application/x-ndjson"),
        ))
        .await;
    assert_eq!(nd.headers[header::CONTENT_TYPE], "application/x-ndjson");
    let objects: Vec<Value> = nd
        .text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(objects.len(), 3);
    let json = api
        .send(report("/v1/campaigns/rep/report?format=json", None))
        .await;
    assert_eq!(json.headers[header::CONTENT_TYPE], "application/json");
    let array = json.json.as_array().expect("a JSON array");
    assert_eq!(array, &objects);
    let groups: Vec<&str> = array.iter().map(|i| i["group"].as_str().unwrap()).collect();
    assert_eq!(groups, [jid(0), jid(1), jid(2)]);
    assert!(
        array
            .iter()
            .all(|i| i["outcome"].is_null() && i["campaign_id"] == "rep")
    );
    // An empty campaign is an empty array; an unknown one 404.
    api.call(
        "POST",
        "/v1/campaigns",
        Some(TOKEN),
        Some(json!({"id": "empty", "items": []})),
    )
    .await
    .ok(201);
    let empty = api.send(report("/v1/campaigns/empty/report", None)).await;
    assert_eq!(empty.json, json!([]));
    api.call("GET", "/v1/campaigns/nope/report", Some(TOKEN), None)
        .await
        .problem(404, "campaign_not_found");
    api.call(
        "GET",
        "/v1/campaigns/rep/report?format=xml",
        Some(TOKEN),
        None,
    )
    .await
    .problem(400, "invalid_request");
    api.cleanup().await;
}
