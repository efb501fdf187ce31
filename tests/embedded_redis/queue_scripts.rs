//! bulkleave's own queue scripts (`src/queue/lua/`, with the prelude where the queue puts it)
//! through a job's whole life on both servers: enqueue (duplicate, closed campaign), depth,
//! promote, touch, admit, follow-up, retry, finish (and a dead letter), requeue, pause, resume,
//! throttle, release. Stream entry ids differ between servers and are passed per side.

use super::{Pair, Shown, clock_ids};

const PRELUDE: &str = include_str!("../../src/queue/lua/prelude.lua");

fn script(name: &str) -> String {
    let body = match name {
        "enqueue" => include_str!("../../src/queue/lua/enqueue.lua"),
        "finish" => include_str!("../../src/queue/lua/finish.lua"),
        "requeue" => include_str!("../../src/queue/lua/requeue.lua"),
        "touch" => include_str!("../../src/queue/lua/touch.lua"),
        "resume" => include_str!("../../src/queue/lua/resume.lua"),
        "promote" => return PRELUDE.to_owned() + include_str!("../../src/queue/lua/promote.lua"),
        "retry" => return PRELUDE.to_owned() + include_str!("../../src/queue/lua/retry.lua"),
        "release" => return PRELUDE.to_owned() + include_str!("../../src/queue/lua/release.lua"),
        "admit" => return PRELUDE.to_owned() + include_str!("../../src/queue/lua/admit.lua"),
        "follow_up" => {
            return PRELUDE.to_owned() + include_str!("../../src/queue/lua/follow_up.lua");
        }
        "throttle" => return PRELUDE.to_owned() + include_str!("../../src/queue/lua/throttle.lua"),
        "pause" => return PRELUDE.to_owned() + include_str!("../../src/queue/lua/pause.lua"),
        "depth" => return PRELUDE.to_owned() + include_str!("../../src/queue/lua/depth.lua"),
        other => panic!("no script {other}"),
    };
    body.to_owned()
}

/// Runs bulkleave's script `name` on both servers; `argv` may differ per side (0: real,
/// 1: embedded) where it names a stream entry. Replies are compared with clock ids
/// normalised; returns the real one.
async fn eval(
    p: &mut Pair,
    name: &str,
    keys: &[&str],
    argv: impl Fn(usize) -> Vec<String>,
) -> Shown {
    let body = script(name);
    let mut sides = Vec::new();
    for side in 0..2 {
        let mut args = vec!["EVAL".to_owned(), body.clone(), keys.len().to_string()];
        args.extend(p.expand(keys));
        args.extend(argv(side));
        sides.push(args);
    }
    let (real, emb) = p.each(&sides[0], &sides[1]).await;
    let (real, emb) = (clock_ids(real), clock_ids(emb));
    assert_eq!(
        emb, real,
        "embedded (left) vs real (right) for {name} {keys:?}"
    );
    real
}

/// Delivers the new jobs to consumer `c1` (replies compared); returns the ids of the jobs
/// stream's entries on each side.
async fn deliver(p: &mut Pair) -> [Vec<String>; 2] {
    let read = [
        "XREADGROUP",
        "GROUP",
        "workers",
        "c1",
        "STREAMS",
        "{p}jobs",
        ">",
    ];
    p.same(&read, clock_ids).await;
    let args = p.expand(&["XRANGE", "{p}jobs", "-", "+"]);
    let (real, emb) = p.each(&args, &args).await;
    [real, emb].map(|r| {
        r.items()
            .iter()
            .map(|e| e.items()[0].text().to_owned())
            .collect()
    })
}

fn ints(items: &[i64]) -> Shown {
    Shown::Array(items.iter().map(|&n| Shown::Int(n)).collect())
}

fn strs(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

#[tokio::test]
async fn bulkleave_queue_scripts_through_a_jobs_life() {
    let mut p = Pair::new().await;
    p.both(&["XGROUP", "CREATE", "{p}jobs", "workers", "0", "MKSTREAM"])
        .await;
    let keys = |idem: &str, extra: &[&str]| {
        let mut k = vec![format!("{{p}}idem:{idem}")];
        k.extend(["{p}jobs", "{p}delayed", "{p}dj", "{p}acct:w"].map(String::from));
        k.extend(extra.iter().map(|s| (*s).to_owned()));
        k
    };
    let payload = |id: &str| format!(r#"{{"id":"{id}","account":"w"}}"#);
    for (idem, extra, job, at) in [
        ("ka", &[][..], "jobA", "0"),
        ("kb", &[], "jobB", "1000"),
        ("ka", &[], "jobC", "0"),
        ("kd", &["{p}camp"], "jobD", "0"),
    ] {
        if job == "jobD" {
            p.both(&["HSET", "{p}camp", "closed", "1"]).await;
        }
        let k = keys(idem, extra);
        let k: Vec<&str> = k.iter().map(String::as_str).collect();
        let pl = payload(job);
        eval(&mut p, "enqueue", &k, |_| strs(&[job, &pl, at, "100"])).await;
    }
    let depth_keys = ["{p}jobs", "{p}delayed", "{p}booked", "{p}dead"];
    let depth = eval(&mut p, "depth", &depth_keys, |_| strs(&["workers"])).await;
    assert_eq!(depth, ints(&[1, 0, 1, 0, 0, 0]));
    let promoted = eval(
        &mut p,
        "promote",
        &["{p}delayed", "{p}dj", "{p}jobs"],
        |_| strs(&["2000", "500"]),
    )
    .await;
    assert_eq!(promoted, ints(&[1, -1, 2000]));
    let ids = deliver(&mut p).await;
    let id = |side: usize, i: usize| ids[side][i].clone();
    let touched = eval(&mut p, "touch", &["{p}jobs"], |s| {
        vec![
            "workers".into(),
            "c1".into(),
            id(s, 0),
            id(s, 1),
            "9-9".into(),
        ]
    })
    .await;
    assert_eq!(touched, Shown::Array(Vec::new()));
    eval(&mut p, "touch", &["{p}jobs"], |s| {
        vec!["workers".into(), "c2".into(), id(s, 0)]
    })
    .await;
    eval(&mut p, "depth", &depth_keys, |_| strs(&["workers"])).await;

    let account = ["{p}acct:w", "{p}acct:w:log"];
    let admit_keys = [
        "{p}jobs",
        "{p}delayed",
        "{p}dj",
        "{p}acct:w",
        "{p}acct:w:log",
        "{p}acct:w:parked",
        "{p}booked",
        "{p}runs",
        "{p}idem:ka",
        "{p}camp:",
        "{p}camp::parked",
    ];
    let admitted = eval(&mut p, "admit", &admit_keys, |s| {
        let mut a = vec!["workers".into(), id(s, 0), "jobA".into(), "c1".into()];
        a.extend(strs(&["10", "1000", "0.1", "1", "25", "0.1", "100", "5"]));
        a
    })
    .await;
    assert_eq!(admitted, Shown::Array(vec![Shown::Int(0), Shown::Int(0)]));
    eval(&mut p, "follow_up", &account, |_| {
        strs(&["jobA", "10", "1000", "0.1", "0.1"])
    })
    .await;
    p.both(&["ZCARD", "{p}acct:w:log"]).await;
    let retry_keys = [
        "{p}jobs",
        "{p}delayed",
        "{p}dj",
        "{p}hist:jobB",
        "{p}idem:kb",
        "{p}runs",
    ];
    for _ in 0..2 {
        eval(&mut p, "retry", &retry_keys, |s| {
            let mut a = vec![
                "workers".into(),
                id(s, 1),
                "jobB".into(),
                "5000".into(),
                payload("jobB"),
            ];
            a.extend(strs(&[r#"{"f":1}"#, "20", "100", "c1", "100"]));
            a
        })
        .await;
    }
    p.both(&["LRANGE", "{p}hist:jobB", "0", "-1"]).await;
    p.both(&["ZRANGE", "{p}delayed", "0", "-1", "WITHSCORES"])
        .await;
    let finish_keys = [
        "{p}jobs",
        "{p}idem:ka",
        "{p}outcomes",
        "{p}hist:jobA",
        "{p}dead",
        "{p}deadjobs",
        "{p}deadinfo",
        "{p}runs",
        "{p}acct:w",
    ];
    for _ in 0..2 {
        eval(&mut p, "finish", &finish_keys, |s| {
            let mut a = vec!["workers".into(), id(s, 0), "jobA".into()];
            a.extend(strs(&["100", "1000", r#"{"o":1}"#, "", "", "123", "1"]));
            a
        })
        .await;
    }
    p.both(&["GET", "{p}idem:ka"]).await;
    p.both(&["HGET", "{p}acct:w", "backlog"]).await;
    p.same(&["XRANGE", "{p}outcomes", "-", "+"], clock_ids)
        .await;
    let mut dead_keys = finish_keys;
    dead_keys[1] = "{p}idem:kb";
    dead_keys[3] = "{p}hist:jobB";
    eval(&mut p, "finish", &dead_keys, |_| {
        strs(&[
            "workers",
            "",
            "jobB",
            "100",
            "1000",
            r#"{"o":2}"#,
            r#"{"r":1}"#,
            "payload",
            "456",
            "1",
        ])
    })
    .await;
    p.both(&["ZRANGE", "{p}dead", "0", "-1", "WITHSCORES"])
        .await;
    let requeue_keys = [
        "{p}dead",
        "{p}deadjobs",
        "{p}deadinfo",
        "{p}jobs",
        "{p}idem:kb",
        "{p}acct:w",
    ];
    for _ in 0..2 {
        eval(&mut p, "requeue", &requeue_keys, |_| {
            vec!["jobB".into(), payload("jobB"), "100".into()]
        })
        .await;
    }
    let ids = deliver(&mut p).await;
    let last = |side: usize| ids[side].last().cloned().unwrap_or_default();
    let pause_keys = [
        "{p}jobs",
        "{p}acct:w",
        "{p}acct:w:parked",
        "{p}runs",
        "{p}hist:jobB",
        "{p}booked",
    ];
    eval(&mut p, "pause", &pause_keys, |s| {
        let mut a = vec![
            "workers".into(),
            last(s),
            "jobB".into(),
            payload("jobB"),
            "c1".into(),
        ];
        a.extend(strs(&["creds broken", r#"{"f":2}"#, "20", "100"]));
        a
    })
    .await;
    p.both(&["HMGET", "{p}acct:w", "paused", "backlog"]).await;
    p.both(&["LRANGE", "{p}acct:w:parked", "0", "-1"]).await;
    let resumed = eval(
        &mut p,
        "resume",
        &["{p}acct:w", "{p}acct:w:parked", "{p}jobs"],
        |_| strs(&["500", "1"]),
    )
    .await;
    assert_eq!(resumed, ints(&[1, 1, 0]));
    let ids = deliver(&mut p).await;
    let last = |side: usize| ids[side].last().cloned().unwrap_or_default();
    let throttle_keys = [
        "{p}jobs",
        "{p}delayed",
        "{p}dj",
        "{p}hist:jobB",
        "{p}idem:kb",
        "{p}runs",
        "{p}acct:w",
        "{p}booked",
    ];
    let throttled = |s: Shown| match s {
        Shown::Int(n) if n > 1_600_000_000_000 => Shown::Status("a time".into()),
        other => other,
    };
    for _ in 0..2 {
        let mut sides = Vec::new();
        for side in 0..2 {
            let mut args = vec!["EVAL".to_owned(), script("throttle"), "8".into()];
            args.extend(p.expand(&throttle_keys));
            args.extend([
                "workers".into(),
                last(side),
                "jobB".into(),
                "1000".into(),
                "1".into(),
                "429".into(),
                payload("jobB"),
                r#"{"f":3}"#.into(),
                "20".into(),
                "100".into(),
                "c1".into(),
                "100".into(),
            ]);
            args.extend(strs(&["10", "1000", "0.1", "1", "0.5", "0.1", "0.2"]));
            sides.push(args);
        }
        let (real, emb) = p.each(&sides[0], &sides[1]).await;
        assert_eq!(throttled(emb), throttled(real));
    }
    p.both(&[
        "HMGET",
        "{p}acct:w",
        "cool_reason",
        "throttled",
        "rate_limited",
        "factor",
    ])
    .await;
    p.both(&["HLEN", "{p}booked"]).await;
    let released = eval(&mut p, "release", &["{p}jobs", "{p}runs"], |s| {
        vec![
            "workers".into(),
            last(s),
            "jobB".into(),
            payload("jobB"),
            "c1".into(),
            "1".into(),
        ]
    })
    .await;
    assert_eq!(released, Shown::Int(0), "throttled deliveries are settled");
    p.same(&["XRANGE", "{p}jobs", "-", "+"], clock_ids).await;
    eval(&mut p, "depth", &depth_keys, |_| strs(&["workers"])).await;
    p.finish().await;
}
