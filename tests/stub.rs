//! The test stub's own counts, on which the memory bench's "1,000 in flight, checked" rests:
//! concurrent requests are held for the delay, counted while held, and counted once answered.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::stub::Stub;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_stub_counts_the_requests_it_holds_and_answers() {
    let stub = Stub::start(Duration::from_millis(500)).await;
    let client = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{}/api/leave", stub.port);
    let requests = (0..20).map(|_| {
        let (client, url) = (client.clone(), url.clone());
        tokio::spawn(async move { client.post(url).send().await.unwrap().status() })
    });
    let requests: Vec<_> = requests.collect();
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(stub.in_flight(), 20, "held during the delay");
    assert_eq!(stub.answered(), 0);
    for r in requests {
        assert_eq!(r.await.unwrap(), 200);
    }
    assert_eq!(stub.peak_in_flight(), 20);
    assert_eq!(stub.answered(), 20);
    assert_eq!(stub.in_flight(), 0);
    stub.reset_peak();
    assert_eq!(stub.peak_in_flight(), 0);
}
