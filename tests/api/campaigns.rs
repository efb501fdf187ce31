//! Creating campaigns and adding items through the API, on a PostgreSQL database of its own
//! per test: JSON, CSV and NDJSON bodies, rejected rows with their line and reason, unreadable
//! uploads, the upload size limit (413 with nothing kept or queued), a large upload streamed
//! through a bound port, and 401 on every authenticated endpoint.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, header};
use serde_json::{Value, json};

use crate::support::{GROUP, TOKEN, TestApi};

/// A group reference Wasend accepts, one per `i`.
pub fn jid(i: u32) -> String {
    format!("12036340628{i:07}@g.us")
}

/// An API on a fresh migrated database of its own, with `extra` settings.
pub async fn api_with_db(extra: &[(&str, &str)]) -> TestApi {
    let (url, _ledger) = crate::common::db::fresh_ledger().await;
    let mut env = vec![("BULKLEAVE__DATABASE__URL", url.as_str())];
    env.extend_from_slice(extra);
    TestApi::start(&env).await
}

/// An authenticated POST of `body` as `content_type`.
pub fn post(uri: &str, content_type: &str, body: impl Into<Body>) -> Request<Body> {
    Request::post(uri)
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .header(header::CONTENT_TYPE, content_type)
        .body(body.into())
        .unwrap()
}

/// The rejected rows of an intake as (line, field, reason).
pub fn rejected(intake: &Value) -> Vec<(u64, Option<String>, String)> {
    intake["rejected_rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["line"].as_u64().unwrap(),
                r["field"].as_str().map(str::to_owned),
                r["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn lines_fields(rows: &[(u64, Option<String>, String)]) -> Vec<(u64, Option<&str>)> {
    rows.iter().map(|(l, f, _)| (*l, f.as_deref())).collect()
}

#[tokio::test]
async fn create_from_json_with_rejected_items() {
    let api = api_with_db(&[]).await;
    let body = json!({
        "id": "from-json",
        "description": "offboarding",
        "items": [
            {"provider": "wasend", "account": "w", "group": GROUP},
            {"provider": "telegram", "account": "w", "group": GROUP},
            {"provider": "wasend", "account": "nobody", "group": jid(2)},
            {"provider": "kirimin", "account": "k", "group": "12x"},
            {"provider": "wasend", "account": "w", "group": GROUP},
            {"provider": "kirimin", "account": "k", "group": "6228001", "idempotency_key": "k-1"},
        ]
    });
    let answer = api
        .call("POST", "/v1/campaigns", Some(TOKEN), Some(body))
        .await;
    let created = answer.ok(201);
    assert_eq!(answer.headers[header::LOCATION], "/v1/campaigns/from-json");
    let campaign = &created["campaign"];
    assert_eq!(campaign["id"], "from-json");
    assert_eq!(campaign["created_by"], "ci");
    assert_eq!(campaign["description"], "offboarding");
    assert_eq!(campaign["accepting"], false, "closed unless keep_open");
    assert_eq!(
        (campaign["items"].as_i64(), campaign["pending"].as_i64()),
        (Some(2), Some(2))
    );
    let intake = &created["intake"];
    assert_eq!(
        (intake["rows"].as_u64(), intake["accepted"].as_u64()),
        (Some(6), Some(2))
    );
    let rows = rejected(intake);
    assert_eq!(
        lines_fields(&rows),
        [
            (2, Some("provider")),
            (3, Some("account")),
            (4, Some("group")),
            (5, Some("group"))
        ]
    );
    assert!(rows[3].2.contains("duplicate"), "{rows:?}");
    assert_eq!(api.queue.stats().await.unwrap().ready, 2);

    // The same id again; unknown fields; another content type.
    let again = json!({"id": "from-json", "items": []});
    api.call("POST", "/v1/campaigns", Some(TOKEN), Some(again))
        .await
        .problem(409, "campaign_exists");
    let unknown = json!({"items": [], "colour": "red"});
    api.call("POST", "/v1/campaigns", Some(TOKEN), Some(unknown))
        .await
        .problem(400, "invalid_json");
    let bad_id = json!({"id": "no spaces", "items": []});
    api.call("POST", "/v1/campaigns", Some(TOKEN), Some(bad_id))
        .await
        .problem(422, "invalid_job");
    api.send(post(
        "/v1/campaigns",
        "text/plain",
        "provider,account,group\n",
    ))
    .await
    .problem(415, "unsupported_media_type");
    api.send(post(
        "/v1/campaigns/from-json/items",
        "application/xml",
        "<a/>",
    ))
    .await
    .problem(415, "unsupported_media_type");
    api.cleanup().await;
}

#[tokio::test]
async fn create_from_csv_and_ndjson_with_rejected_rows() {
    let api = api_with_db(&[]).await;
    let csv = format!(
        "provider,account,group\n\
         wasend,w,{g1}\n\
         telegram,w,{g1}\n\
         wasend,nobody,{g2}\n\
         kirimin,k,12x\n\
         wasend,w,{g1}\n\
         wasend,w\n\
         wasend,w,\"bad\"quote\n\
         kirimin,k,6228001\n",
        g1 = jid(1),
        g2 = jid(2)
    );
    let answer = api
        .send(post(
            "/v1/campaigns?id=from-csv&keep_open=true",
            "text/csv",
            csv,
        ))
        .await;
    let created = answer.ok(201);
    assert_eq!(answer.headers[header::LOCATION], "/v1/campaigns/from-csv");
    assert_eq!(created["campaign"]["accepting"], true, "keep_open");
    let intake = &created["intake"];
    assert_eq!(
        (intake["rows"].as_u64(), intake["accepted"].as_u64()),
        (Some(8), Some(2))
    );
    let rows = rejected(intake);
    assert_eq!(
        lines_fields(&rows),
        [
            (3, Some("provider")),
            (4, Some("account")),
            (5, Some("group")),
            (6, Some("group")),
            (7, None),
            (8, None),
        ],
        "{rows:#?}"
    );
    assert!(rows[3].2.contains("duplicate"), "{rows:?}");
    assert!(rows[4].2.contains("field"), "column count: {rows:?}");
    assert!(rows[5].2.contains("quote"), "quoting: {rows:?}");

    let ndjson = format!(
        "{{\"provider\":\"wasend\",\"account\":\"w\",\"group\":\"{}\"}}\n{{bad json\n\n\
         {{\"provider\":\"kirimin\",\"account\":\"w\",\"group\":\"6228001\"}}\n",
        jid(3)
    );
    for content_type in ["application/x-ndjson", "application/jsonl"] {
        let uri = format!("/v1/campaigns?description=nd&id=nd-{}", content_type.len());
        let created = api.send(post(&uri, content_type, ndjson.clone())).await;
        let created = created.ok(201);
        assert_eq!(created["campaign"]["description"], "nd");
        let intake = &created["intake"];
        assert_eq!(intake["accepted"], 1, "{intake}");
        assert_eq!(
            lines_fields(&rejected(intake)),
            [(2, None), (4, Some("provider"))]
        );
    }

    // A header naming the wrong columns: nothing of the upload is kept, and the answer says so.
    let bad = api
        .send(post(
            "/v1/campaigns?id=bad-header",
            "text/csv",
            "provider,acct,group\nwasend,w,x\n",
        ))
        .await;
    bad.problem(422, "invalid_upload");
    let detail = bad.json["detail"].as_str().unwrap();
    assert!(detail.contains("acct"), "{detail}");
    assert!(
        detail.contains("bad-header") && detail.contains("holds nothing"),
        "{detail}"
    );
    let status = api
        .call("GET", "/v1/campaigns/bad-header", Some(TOKEN), None)
        .await;
    assert_eq!(status.ok(200)["campaign"]["items"], 0);
    api.cleanup().await;
}

#[tokio::test]
async fn an_upload_beyond_the_limit_is_refused_and_nothing_is_kept_or_queued() {
    const LIMIT: usize = 8 * 1024 * 1024;
    let limit = LIMIT.to_string();
    let api = api_with_db(&[("BULKLEAVE__API__MAX_UPLOAD_BYTES", limit.as_str())]).await;
    // ~50 MB of rows, streamed without a Content-Length: cut off at the limit.
    let chunk: Arc<Vec<u8>> = Arc::new(
        std::iter::once("provider,account,group\n".to_owned())
            .chain((0..10_000).map(|i| format!("wasend,w,{}\n", jid(i))))
            .collect::<String>()
            .into_bytes(),
    );
    let chunks = (50 * 1024 * 1024) / chunk.len() + 1;
    let stream = futures_util::stream::iter(
        (0..chunks).map(move |_| Ok::<_, std::io::Error>(chunk.as_ref().clone())),
    );
    let answer = api
        .send(post(
            "/v1/campaigns?id=huge",
            "text/csv",
            Body::from_stream(stream),
        ))
        .await;
    answer.problem(413, "payload_too_large");
    let detail = answer.json["detail"].as_str().unwrap();
    assert!(
        detail.contains(&limit) && detail.contains("huge"),
        "{detail}"
    );
    let status = api
        .call("GET", "/v1/campaigns/huge", Some(TOKEN), None)
        .await;
    let status = status.ok(200);
    assert_eq!(
        (
            status["campaign"]["items"].as_i64(),
            status["campaign"]["pending"].as_i64()
        ),
        (Some(0), Some(0))
    );
    let stats = api.queue.stats().await.unwrap();
    assert_eq!((stats.ready, stats.delayed), (0, 0), "nothing queued");

    // With a Content-Length beyond the limit: refused before anything is created.
    let mut request = post("/v1/campaigns?id=early", "text/csv", vec![b'a'; LIMIT + 1]);
    let length = (LIMIT + 1).to_string();
    request
        .headers_mut()
        .insert(header::CONTENT_LENGTH, length.parse().unwrap());
    api.send(request).await.problem(413, "payload_too_large");
    api.call("GET", "/v1/campaigns/early", Some(TOKEN), None)
        .await
        .problem(404, "campaign_not_found");
    // The JSON body limit still applies to JSON on the upload routes.
    let items: Vec<Value> = (0..200)
        .map(|i| json!({"provider": "wasend", "account": "w", "group": jid(i)}))
        .collect();
    api.call(
        "POST",
        "/v1/campaigns",
        Some(TOKEN),
        Some(json!({"items": items})),
    )
    .await
    .problem(413, "payload_too_large");
    api.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_large_upload_streams_through_a_bound_port() {
    const ROWS: u32 = 20_000;
    let (url, _ledger) = crate::common::db::fresh_ledger().await;
    let redis = crate::common::redis_settings();
    let env = crate::support::env(&redis, &[("BULKLEAVE__DATABASE__URL", url.as_str())]);
    let settings = Arc::new(bulkleave::config::load_with_env(None, &env).unwrap());
    let queue = bulkleave::queue::Queue::connect(&settings.redis, settings.queue.clone())
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(bulkleave::api::serve(settings, listener, async {
        let _ = stopped.await;
    }));
    // 1000 rows per chunk, produced as the body is sent.
    let chunks = futures_util::stream::iter((0..ROWS / 1000).map(|c| {
        let mut s = if c == 0 {
            "provider,account,group\n".to_owned()
        } else {
            String::new()
        };
        for i in c * 1000..(c + 1) * 1000 {
            s += &format!("wasend,w,{}\n", jid(i));
        }
        Ok::<_, std::io::Error>(s)
    }));
    let client = reqwest::Client::new();
    let mut answer = None;
    let mut body = Some(reqwest::Body::wrap_stream(chunks));
    for _ in 0..50 {
        if client.get(format!("{base}/healthz")).send().await.is_ok() {
            answer = Some(
                client
                    .post(format!("{base}/v1/campaigns?id=big"))
                    .bearer_auth(TOKEN)
                    .header("content-type", "text/csv")
                    .body(body.take().unwrap())
                    .send()
                    .await
                    .unwrap(),
            );
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let answer = answer.expect("the server answers");
    assert_eq!(answer.status(), 201);
    let created: Value = serde_json::from_str(&answer.text().await.unwrap()).unwrap();
    assert_eq!(created["intake"]["accepted"], ROWS, "{}", created["intake"]);
    assert_eq!(created["campaign"]["items"], ROWS);
    assert_eq!(queue.stats().await.unwrap().ready, u64::from(ROWS));
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
    crate::common::drop_prefix(&redis.key_prefix).await;
}

#[tokio::test]
async fn every_campaign_endpoint_refuses_a_missing_token() {
    let api = api_with_db(&[]).await;
    let doc = api
        .call("GET", "/openapi.json", None, None)
        .await
        .ok(200)
        .clone();
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if op.get("security").is_none() {
                continue;
            }
            let uri = path.replace("{id}", "c").replace("{name}", "w");
            api.call(&method.to_uppercase(), &uri, None, None)
                .await
                .problem(401, "unauthorized");
            checked += 1;
        }
    }
    assert!(checked >= 18, "{checked}");
    api.cleanup().await;
}
