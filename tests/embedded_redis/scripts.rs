//! Scripting: Lua ↔ reply conversions, errors as Redis words them, `redis.pcall`,
//! `redis.error_reply`/`status_reply`, read-only globals, `cjson`, `EVALSHA`/`SCRIPT`, and
//! bulkleave's own queue scripts (`src/queue/lua/`) through a job's whole life.

use super::{Pair, Shown, clock_ids};

#[tokio::test]
async fn conversions_and_errors_match_redis() {
    let mut p = Pair::new().await;
    p.both(&["SET", "{p}str", "abc"]).await;
    p.both(&["RPUSH", "{p}list", "x"]).await;
    for script in [
        "return 1",
        "return {1, 2.9, -2.9, 'a', true, false, nil, 5}",
        "return {1, {2, {3, 'x'}}, {ok='fine'}, {err='nested'}}",
        "return 3.99",
        "return -0.5",
        "return {1e20, -1/0, 0/0, 2^63, -2^63}",
        "return true",
        "return false",
        "return nil",
        "return {}",
        "return {ok='status\\r\\nline'}",
        "return {err='boom'}",
        "return {err=42}",
        "return redis.error_reply('boom')",
        "return redis.error_reply('MY boom')",
        "return redis.error_reply('-X')",
        "return redis.error_reply()",
        "return redis.status_reply('fine')",
        "return redis.status_reply({})",
        "error('boom')",
        "error({err='custom'})",
        "error({err='MY custom'})",
        "local x = nil; return x.y",
        "\n\nreturn redis.call('INCR', KEYS[1])",
        "return redis.pcall('INCR', KEYS[1])",
        "local e = redis.pcall('INCR', KEYS[1]); return {type(e), e.err, tostring(e.ignore_error_stats_update)}",
        "local ok, e = pcall(redis.call, 'INCR', KEYS[1]); return {tostring(ok), e}",
        "local ok, e = pcall(error, {err='t'}); return {tostring(ok), e}",
        "local ok, e = pcall(error, 'plain'); return {tostring(ok), e}",
        "return pcall(function() return 1, 2 end)",
        "return redis.call('LPUSH', KEYS[1], 1)",
        "return redis.call('NOPE')",
        "return redis.pcall('NOPE')",
        "return redis.call()",
        "return redis.pcall()",
        "return redis.call('GET')",
        "return redis.call('GET', {})",
        "return redis.call('EVAL', 'return 1', 0)",
        "return redis.call('SET', KEYS[2], 0.1) and redis.call('GET', KEYS[2])",
        "redis.call('SET', KEYS[2], 1e20); return redis.call('GET', KEYS[2])",
        "redis.call('SET', KEYS[2], 123456789012345678); return redis.call('GET', KEYS[2])",
        "redis.call('SET', KEYS[2], -0.0); return redis.call('GET', KEYS[2])",
        "return redis.call('SET', KEYS[2], 'v')",
        "return type(redis.call('SET', KEYS[2], 'v', 'NX'))",
        "return redis.call('GET', KEYS[3])",
        "return {redis.call('HMGET', KEYS[3], 'a', 'b')}",
        "return redis.call('LRANGE', KEYS[4], 0, -1)",
        "return {#KEYS, #ARGV, KEYS[1], ARGV[1], ARGV[2]}",
        "return foo",
        "x = 1",
        "KEYS = 1",
        "redis.call = nil",
        "string.x = 1",
        "_G.y = 1",
        "return {type(debug), type(loadfile)}",
        "retur 1",
        "return redis.sha1hex('abc')",
        "return string.format('%.17g|%d|%s', 0.1, 7, tostring(12345678901234567))",
        "return tostring(1700000000123.456)",
        "return math.floor(2.5) + math.max(1, 3)",
        "return table.concat({'a', 'b'}, ',')",
        "return tonumber(redis.call('TIME')[1]) > 1600000000",
    ] {
        p.both(&[
            "EVAL", script, "4", "{p}str", "{p}k", "{p}none", "{p}list", "a1", "a2",
        ])
        .await;
    }
    for cmd in [
        &["EVAL", "return 1", "x"][..],
        &["EVAL", "return 1", "-1"],
        &["EVAL", "return 1", "2", "k"],
        &["EVAL"],
    ] {
        p.both(cmd).await;
    }
    p.finish().await;
}

#[tokio::test]
async fn cjson_decodes_and_encodes_like_lua_cjson() {
    let mut p = Pair::new().await;
    for script in [
        r#"local v = cjson.decode('{"a":[1,2,null,"x"],"b":{"c":true},"d":-1.5e2}'); return {v.a[1], v.a[2], tostring(v.a[3] == cjson.null), v.a[4], tostring(v.b.c), v.d, #v.a}"#,
        r#"return cjson.decode('"esc\\u00e9\\n\\/\\"\\ud83d\\ude00"')"#,
        r#"return type(cjson.decode('null'))"#,
        r#"return cjson.decode('  12.75 ')"#,
        r#"return tostring(cjson.null)"#,
        r#"return cjson.decode('')"#,
        r#"return cjson.decode('{bad')"#,
        r#"return cjson.decode('[1,2')"#,
        r#"return cjson.decode('[1 2]')"#,
        r#"return cjson.decode('{"a" 1}')"#,
        r#"return cjson.decode('{"a":1,}')"#,
        r#"return cjson.decode('[1] x')"#,
        r#"return cjson.decode('"unterminated')"#,
        r#"return cjson.decode('"bad \\q"')"#,
        r#"return cjson.decode('tru')"#,
        r#"return cjson.decode('-')"#,
        r#"local ok, e = pcall(cjson.decode, '{'); return {tostring(ok), e}"#,
        r#"return cjson.decode({})"#,
        r#"return cjson.encode({1, 2, 'a/b', 'q"\\', true, false})"#,
        r#"return cjson.encode({})"#,
        r#"return cjson.encode({[1]=1, [5]=2})"#,
        r#"return cjson.encode({[1]=1, [20]=2})"#,
        r#"return cjson.encode({0.1, 1e20, 3, -0.5, 1/3})"#,
        r#"return cjson.encode({a={b={}}})"#,
        r#"return cjson.encode({'\1\31\127'})"#,
        r#"return cjson.encode(cjson.null)"#,
        r#"return cjson.encode(1/0)"#,
        r#"return cjson.encode({f=tostring})"#,
        r#"return type(print)"#,
        r#"return cjson.encode({[true]=1})"#,
        r#"return cjson.encode('x')"#,
    ] {
        p.both(&["EVAL", script, "0"]).await;
    }
    p.finish().await;
}

#[tokio::test]
async fn evalsha_and_script_commands() {
    let mut p = Pair::new().await;
    let body = format!("-- {}\nreturn ARGV[1]", p.prefix);
    let sha = bulkleave_sha(&body);
    for cmd in [
        &["EVALSHA", sha.as_str(), "0", "x"][..],
        &["SCRIPT", "EXISTS", sha.as_str(), "0000"],
        &["SCRIPT", "LOAD", body.as_str()],
        &["SCRIPT", "EXISTS", sha.as_str(), "0000"],
        &["EVALSHA", sha.as_str(), "0", "x"],
        &["EVALSHA", sha.to_uppercase().as_str(), "0", "y"],
        &["EVALSHA", "short", "0"],
        &["SCRIPT", "LOAD", "return +"],
        &["SCRIPT", "NOPE"],
        &["SCRIPT", "LOAD"],
        &["SCRIPT", "KILL"],
    ] {
        p.both(cmd).await;
    }
    p.finish().await;
}

fn bulkleave_sha(body: &str) -> String {
    use sha1::Digest;
    hex::encode(sha1::Sha1::digest(body.as_bytes()))
}

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

/// The ids of the jobs stream's entries on each side.
async fn entry_ids(p: &mut Pair) -> [Vec<String>; 2] {
    let args = p.expand(&["XRANGE", "{p}jobs", "-", "+"]);
    let (real, emb) = p.each(&args, &args).await;
    [real, emb].map(|r| {
        r.items()
            .iter()
            .map(|e| e.items()[0].text().to_owned())
            .collect()
    })
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
    assert_eq!(
        depth,
        Shown::Array([1, 0, 1, 0, 0, 0].map(Shown::Int).to_vec())
    );
    let promoted = eval(
        &mut p,
        "promote",
        &["{p}delayed", "{p}dj", "{p}jobs"],
        |_| strs(&["2000", "500"]),
    )
    .await;
    assert_eq!(
        promoted,
        Shown::Array([1, -1, 2000].map(Shown::Int).to_vec())
    );
    p.same(
        &[
            "XREADGROUP",
            "GROUP",
            "workers",
            "c1",
            "COUNT",
            "10",
            "STREAMS",
            "{p}jobs",
            ">",
        ],
        clock_ids,
    )
    .await;
    let ids = entry_ids(&mut p).await;
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
    p.same(
        &[
            "XREADGROUP",
            "GROUP",
            "workers",
            "c1",
            "STREAMS",
            "{p}jobs",
            ">",
        ],
        clock_ids,
    )
    .await;
    let ids = entry_ids(&mut p).await;
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
    assert_eq!(resumed, Shown::Array([1, 1, 0].map(Shown::Int).to_vec()));
    p.same(
        &[
            "XREADGROUP",
            "GROUP",
            "workers",
            "c1",
            "STREAMS",
            "{p}jobs",
            ">",
        ],
        clock_ids,
    )
    .await;
    let ids = entry_ids(&mut p).await;
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
