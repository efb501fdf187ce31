//! Scripting: Lua ↔ reply conversions, errors as Redis words them, `redis.pcall`,
//! `redis.error_reply`/`status_reply`, read-only globals, `cjson`, `EVALSHA`/`SCRIPT`.
//! bulkleave's own scripts are in `queue_scripts.rs`.

use super::Pair;

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
