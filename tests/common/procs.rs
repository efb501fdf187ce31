//! Real `bulkleave worker` processes for tests and benchmarks: start them, signal them, stop
//! them. Shared by the tests (`mod common`) and `benches/quota.rs` (`#[path]`).

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};

/// Starts `bulkleave worker` with exactly `env` (no configuration file, metrics off unless
/// `env` turns them on), logging warnings to `stderr`.
pub fn spawn_worker(env: &HashMap<String, String>, stderr: Stdio) -> Child {
    Command::new(env!("CARGO_BIN_EXE_bulkleave"))
        .arg("worker")
        .env_remove("BULKLEAVE_CONFIG")
        .env("RUST_LOG", "warn")
        // Several workers share a host in tests: no metrics listener unless `env` asks for one.
        .env("BULKLEAVE__METRICS__ENABLED", "false")
        .envs(env)
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .expect("start bulkleave worker")
}

/// Sends `sig` (`TERM`, `KILL`, …) to `child`.
pub fn signal(child: &Child, sig: &str) {
    signal_pid(child.id(), sig);
}

/// Sends `sig` to the process `pid` (a std or tokio child's id).
pub fn signal_pid(pid: u32, sig: &str) {
    let status = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{sig} {pid}");
}

/// Sends SIGTERM to every worker, then waits for each to drain and exit.
pub fn terminate(workers: Vec<Child>) {
    for w in &workers {
        signal(w, "TERM");
    }
    for mut w in workers {
        let _ = w.wait();
    }
}
