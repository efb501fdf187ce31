//! `/healthz` and `/readyz` with the real dependencies, and with PostgreSQL unreachable.

use crate::support::TestApi;

#[tokio::test]
async fn ready_when_redis_and_postgres_answer() {
    let api = TestApi::start(&[]).await;
    assert_eq!(
        api.call("GET", "/healthz", None, None).await.ok(200)["status"],
        "ok"
    );
    assert_eq!(
        api.call("GET", "/readyz", None, None).await.ok(200)["status"],
        "ready"
    );
    api.cleanup().await;
}

#[tokio::test]
async fn not_ready_names_the_dependency_down_without_its_url() {
    let url = "postgres://app:pg-s3cr3t-pw@127.0.0.1:1/test";
    let api = TestApi::start(&[("BULKLEAVE__DATABASE__URL", url)]).await;
    // The API starts with PostgreSQL down; liveness is unaffected.
    api.call("GET", "/healthz", None, None).await.ok(200);
    let started = std::time::Instant::now();
    let answer = api.call("GET", "/readyz", None, None).await;
    answer.problem(503, "unavailable");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    let detail = answer.json["detail"].as_str().unwrap();
    assert!(detail.contains("postgres"), "{detail}");
    assert!(!detail.contains("redis"), "{detail}");
    for leak in ["pg-s3cr3t-pw", "127.0.0.1", "postgres://", ":1/"] {
        assert!(!answer.text.contains(leak), "{leak} in {}", answer.text);
    }
    api.cleanup().await;
}
