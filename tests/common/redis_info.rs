//! What Redis says about its own work (`INFO`): the commands it ran and the CPU it used, so
//! the queue bench can count them per job. Shared by the benches (`#[path]`).

use std::collections::BTreeMap;

fn connection() -> redis::Connection {
    redis::Client::open(super::redis_url())
        .expect("url")
        .get_connection()
        .expect("redis up")
}

fn info(section: &str) -> String {
    redis::cmd("INFO")
        .arg(section)
        .query(&mut connection())
        .expect("info")
}

/// `INFO commandstats` as command → calls (commands run inside Lua scripts count too).
pub fn commandstats() -> BTreeMap<String, u64> {
    info("commandstats")
        .lines()
        .filter_map(|l| {
            let (name, rest) = l.strip_prefix("cmdstat_")?.split_once(':')?;
            let calls = rest
                .split(',')
                .find_map(|kv| kv.strip_prefix("calls="))?
                .parse()
                .ok()?;
            Some((name.to_owned(), calls))
        })
        .collect()
}

/// The calls of each command between two [`commandstats`] readings (commands not run left out).
pub fn diff(
    before: &BTreeMap<String, u64>,
    after: &BTreeMap<String, u64>,
) -> BTreeMap<String, u64> {
    after
        .iter()
        .map(|(k, v)| (k.clone(), v - before.get(k).copied().unwrap_or(0)))
        .filter(|(_, v)| *v > 0)
        .collect()
}

/// CPU seconds Redis has used so far (`INFO cpu`, user + system).
pub fn cpu_s() -> f64 {
    info("cpu")
        .lines()
        .filter_map(|l| l.split_once(':'))
        .filter(|(k, _)| *k == "used_cpu_sys" || *k == "used_cpu_user")
        .filter_map(|(_, v)| v.trim().parse::<f64>().ok())
        .sum()
}
