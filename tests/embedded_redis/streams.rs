//! Streams: entries and ids, trimming, consumer groups, pending entries, claims, and
//! `XREADGROUP … BLOCK` waking up when an entry is added.

use std::time::{Duration, Instant};

use super::{Pair, Shown, clock_ids, connect, run};

#[tokio::test]
async fn entries_ids_ranges_and_trimming() {
    let mut p = Pair::new().await;
    for cmd in [
        &["XADD", "{p}s", "1-1", "f", "v"][..],
        &["XADD", "{p}s", "1-1", "f", "v"],
        &["XADD", "{p}s", "0-0", "f", "v"],
        &["XADD", "{p}s2", "0-0", "f", "v"],
        &["EXISTS", "{p}s2"],
        &["XADD", "{p}s", "1-*", "f", "v", "g", "w"],
        &["XADD", "{p}s", "5", "f", "v"],
        &["XADD", "{p}s", "7-*", "a", "1"],
        &["XADD", "{p}s", "x-1", "f", "v"],
        &["XADD", "{p}s", "9-1", "f"],
        &["XADD", "{p}s", "9-1"],
        &["XADD", "{p}s", "NOMKSTREAM", "9-1", "f", "v"],
        &["XADD", "{p}none", "NOMKSTREAM", "*", "f", "v"],
        &["EXISTS", "{p}none"],
        &["XLEN", "{p}s"],
        &["XRANGE", "{p}s", "-", "+"],
        &["XRANGE", "{p}s", "1", "5"],
        &["XRANGE", "{p}s", "(1-1", "+", "COUNT", "2"],
        &["XRANGE", "{p}s", "-", "(5-0"],
        &["XRANGE", "{p}s", "-", "+", "COUNT", "0"],
        &["XRANGE", "{p}s", "5", "1"],
        &["XRANGE", "{p}s", "(-", "+"],
        &["XRANGE", "{p}s", "-", "+", "LIMIT", "1"],
        &["XREVRANGE", "{p}s", "+", "-", "COUNT", "3"],
        &["XRANGE", "{p}none", "-", "+"],
        &["XDEL", "{p}s", "1-2", "100-1"],
        &["XDEL", "{p}s", "bad"],
        &["XLEN", "{p}s"],
        &["XADD", "{p}s", "MAXLEN", "=", "3", "10-1", "f", "v"],
        &["XRANGE", "{p}s", "-", "+"],
        &["XADD", "{p}s", "MAXLEN", "~", "2", "11-1", "f", "v"],
        &["XLEN", "{p}s"],
        &["XADD", "{p}s", "MINID", "10", "12-1", "f", "v"],
        &["XRANGE", "{p}s", "-", "+"],
        &[
            "XADD", "{p}s", "MAXLEN", "2", "LIMIT", "10", "13-1", "f", "v",
        ],
        &["XADD", "{p}s", "MAXLEN", "-1", "13-1", "f", "v"],
        &[
            "XADD", "{p}s", "MAXLEN", "1", "MINID", "1", "13-1", "f", "v",
        ],
        &["XTRIM", "{p}s", "MAXLEN", "1"],
        &["XTRIM", "{p}s", "MAXLEN", "~", "0"],
        &["XTRIM", "{p}s", "FOO", "1"],
        &["XLEN", "{p}s"],
        &["XADD", "{p}s", "12-1", "f", "v"],
        &["SET", "{p}str", "x"],
        &["XADD", "{p}str", "*", "f", "v"],
        &["XLEN", "{p}str"],
        &["XRANGE", "{p}str", "-", "+"],
    ] {
        p.both(cmd).await;
    }
    for cmd in [
        &["XADD", "{p}t", "*", "f", "v"][..],
        &["XADD", "{p}t", "MAXLEN", "~", "100", "*", "g", "w"],
        &["XRANGE", "{p}t", "-", "+"],
    ] {
        p.same(cmd, clock_ids).await;
    }
    p.finish().await;
}

/// XPENDING's extended form with idle times bucketed (they depend on when each ran).
fn idle_bucketed(s: Shown) -> Shown {
    match s {
        Shown::Array(items) => Shown::Array(
            items
                .into_iter()
                .map(|e| match e {
                    Shown::Array(mut f) if f.len() == 4 => {
                        if let Shown::Int(idle) = f[2] {
                            f[2] = Shown::Status(if idle < 150 { "fresh" } else { "idle" }.into());
                        }
                        Shown::Array(f)
                    }
                    other => other,
                })
                .collect(),
        ),
        other => other,
    }
}

#[tokio::test]
async fn consumer_groups_pending_entries_and_claims() {
    let mut p = Pair::new().await;
    for cmd in [
        &["XGROUP", "CREATE", "{p}s", "g", "0"][..],
        &["XGROUP", "CREATE", "{p}s", "g", "0", "MKSTREAM"],
        &["XGROUP", "CREATE", "{p}s", "g", "$"],
        &["XGROUP", "CREATE", "{p}s", "late", "$"],
        &["XGROUP", "CREATE", "{p}s", "bad", "x"],
        &["XGROUP", "CREATE", "{p}s"],
        &["XGROUP", "NOPE", "{p}s"],
        &["XGROUP", "CREATECONSUMER", "{p}s", "g", "alice"],
        &["XGROUP", "CREATECONSUMER", "{p}s", "g", "alice"],
        &["XGROUP", "CREATECONSUMER", "{p}s", "nog", "alice"],
        &["XADD", "{p}s", "1-1", "job", "a"],
        &["XADD", "{p}s", "2-1", "job", "b"],
        &["XADD", "{p}s", "3-1", "job", "c"],
        &["XADD", "{p}s", "4-1", "job", "d"],
        &["XPENDING", "{p}s", "g"],
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "alice",
            "COUNT",
            "2",
            "STREAMS",
            "{p}s",
            ">",
        ],
        &["XREADGROUP", "GROUP", "g", "bob", "STREAMS", "{p}s", ">"],
        &["XREADGROUP", "GROUP", "g", "bob", "STREAMS", "{p}s", ">"],
        &[
            "XREADGROUP",
            "GROUP",
            "late",
            "x",
            "NOACK",
            "STREAMS",
            "{p}s",
            ">",
        ],
        &["XREADGROUP", "GROUP", "g", "bob", "STREAMS", "{p}s", "$"],
        &["XREADGROUP", "GROUP", "g", "bob", "STREAMS", "{p}s"],
        &["XREADGROUP", "GROUP", "nog", "bob", "STREAMS", "{p}s", ">"],
        &["XREADGROUP", "GROUP", "g", "bob", "STREAMS", "{p}none", ">"],
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "bob",
            "BLOCK",
            "-1",
            "STREAMS",
            "{p}s",
            ">",
        ],
        &["XPENDING", "{p}s", "g"],
        &["XPENDING", "{p}s", "late"],
        &["XPENDING", "{p}s", "nog"],
        &["XPENDING", "{p}s", "g", "-", "+"],
        &["XDEL", "{p}s", "2-1"],
        &["XREADGROUP", "GROUP", "g", "alice", "STREAMS", "{p}s", "0"],
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "alice",
            "COUNT",
            "1",
            "STREAMS",
            "{p}s",
            "1-1",
        ],
        &["XREADGROUP", "GROUP", "g", "carol", "STREAMS", "{p}s", "0"],
        &["XACK", "{p}s", "g", "9-9", "3-1"],
        &["XACK", "{p}s", "nog", "1-1"],
        &["XACK", "{p}s", "g", "bad"],
        &["XPENDING", "{p}s", "g"],
    ] {
        p.both(cmd).await;
    }
    for cmd in [
        &["XPENDING", "{p}s", "g", "-", "+", "10"][..],
        &["XPENDING", "{p}s", "g", "(1-1", "+", "10", "alice"],
        &["XPENDING", "{p}s", "g", "-", "+", "10", "nobody"],
        &["XPENDING", "{p}s", "g", "IDLE", "100000", "-", "+", "10"],
    ] {
        p.same(cmd, idle_bucketed).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    for cmd in [
        &["XPENDING", "{p}s", "g", "IDLE", "150", "-", "+", "10"][..],
        &["XCLAIM", "{p}s", "g", "bob", "100000", "1-1"],
        &["XCLAIM", "{p}s", "g", "bob", "100", "1-1", "2-1", "9-9"],
        &["XPENDING", "{p}s", "g", "-", "+", "10"],
        &["XCLAIM", "{p}s", "g", "bob", "0", "1-1", "JUSTID"],
        &[
            "XCLAIM",
            "{p}s",
            "g",
            "bob",
            "0",
            "1-1",
            "RETRYCOUNT",
            "7",
            "IDLE",
            "500",
        ],
        &["XCLAIM", "{p}s", "g", "bob", "x", "1-1"],
        &["XCLAIM", "{p}s", "g", "bob", "0", "1-1", "BOGUS"],
        &["XCLAIM", "{p}nog", "g", "bob", "0", "1-1"],
        &["XPENDING", "{p}s", "g", "-", "+", "10"],
    ] {
        p.same(cmd, idle_bucketed).await;
    }
    // Deleted entries come back as deleted ids; the cursor walks the PEL.
    for cmd in [
        &["XADD", "{p}s", "5-1", "job", "e"][..],
        &["XADD", "{p}s", "6-1", "job", "f"],
        &["XREADGROUP", "GROUP", "g", "alice", "STREAMS", "{p}s", ">"],
        &["XDEL", "{p}s", "5-1"],
        &["XAUTOCLAIM", "{p}s", "g", "carol", "0", "0", "COUNT", "1"],
        &["XAUTOCLAIM", "{p}s", "g", "carol", "0", "4-1", "COUNT", "1"],
        &["XAUTOCLAIM", "{p}s", "g", "carol", "0", "(5-1", "JUSTID"],
        &["XAUTOCLAIM", "{p}s", "g", "carol", "100000", "0"],
        &["XAUTOCLAIM", "{p}s", "g", "carol", "0", "0", "COUNT", "0"],
        &["XAUTOCLAIM", "{p}s", "nog", "carol", "0", "0"],
        &["XAUTOCLAIM", "{p}s", "g", "carol", "0", "0"],
        &["XPENDING", "{p}s", "g"],
        &["XPENDING", "{p}s", "g", "-", "+", "10"],
        &["XGROUP", "DELCONSUMER", "{p}s", "g", "carol"],
        &["XPENDING", "{p}s", "g"],
        &["XGROUP", "SETID", "{p}s", "g", "0"],
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "dave",
            "COUNT",
            "1",
            "STREAMS",
            "{p}s",
            ">",
        ],
        &["XGROUP", "SETID", "{p}s", "nog", "0"],
        &["XGROUP", "DESTROY", "{p}s", "g"],
        &["XGROUP", "DESTROY", "{p}s", "g"],
        &["XPENDING", "{p}s", "g"],
        &["SET", "{p}str", "x"],
        &["XGROUP", "CREATE", "{p}str", "g", "$"],
        &["XREADGROUP", "GROUP", "g", "a", "STREAMS", "{p}str", ">"],
        &["XPENDING", "{p}str", "g"],
    ] {
        p.same(cmd, idle_bucketed).await;
    }
    p.finish().await;
}

/// Runs a blocking read on a connection of its own while `wake` (if any) runs on the main
/// one after 200 ms; returns the read's reply and how long it took.
async fn blocked(
    client: &redis::Client,
    main: &mut redis::aio::MultiplexedConnection,
    read: Vec<String>,
    wake: Option<Vec<String>>,
) -> (Shown, Duration) {
    let mut conn = connect(client).await;
    let started = Instant::now();
    let reader = tokio::spawn(async move { run(&mut conn, &read).await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    if let Some(wake) = wake {
        run(main, &wake).await;
    }
    let reply = tokio::time::timeout(Duration::from_secs(10), reader)
        .await
        .expect("the blocked read returns")
        .expect("reader task");
    (reply, started.elapsed())
}

#[tokio::test]
async fn xreadgroup_block_waits_and_wakes_on_xadd() {
    let mut p = Pair::new().await;
    p.both(&["XGROUP", "CREATE", "{p}s", "g", "$", "MKSTREAM"])
        .await;
    let cases: [(&[&str], Option<&[&str]>); 4] = [
        (
            &[
                "XREADGROUP",
                "GROUP",
                "g",
                "c",
                "BLOCK",
                "5000",
                "STREAMS",
                "{p}s",
                ">",
            ],
            Some(&["XADD", "{p}s", "5-1", "f", "v"]),
        ),
        (
            &[
                "XREADGROUP",
                "GROUP",
                "g",
                "c",
                "COUNT",
                "1",
                "BLOCK",
                "0",
                "STREAMS",
                "{p}s",
                ">",
            ],
            Some(&["XADD", "{p}s", "6-1", "f", "w"]),
        ),
        (
            &[
                "XREADGROUP",
                "GROUP",
                "g",
                "c",
                "BLOCK",
                "300",
                "STREAMS",
                "{p}s",
                ">",
            ],
            None,
        ),
        (
            &[
                "XREADGROUP",
                "GROUP",
                "g",
                "c",
                "BLOCK",
                "5000",
                "STREAMS",
                "{p}s",
                "0",
            ],
            None,
        ),
    ];
    for (read, wake) in cases {
        let (read, wake) = (p.expand(read), wake.map(|w| p.expand(w)));
        let (real, real_took) =
            blocked(&p.real_client, &mut p.real, read.clone(), wake.clone()).await;
        let (emb, emb_took) = blocked(&p.emb_client, &mut p.emb, read.clone(), wake).await;
        assert_eq!(emb, real, "{read:?}");
        for took in [real_took, emb_took] {
            if read.contains(&"300".to_owned()) {
                assert!(
                    took >= Duration::from_millis(290),
                    "timed out early: {took:?}"
                );
            }
            assert!(took < Duration::from_secs(3), "{read:?} took {took:?}");
        }
        if read.contains(&"300".to_owned()) {
            assert_eq!(emb, Shown::Nil, "a read that times out is nil");
        }
    }
    p.finish().await;
}
