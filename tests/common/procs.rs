//! Real processes for tests and benchmarks: `bulkleave worker` (start it, signal it, stop it)
//! and a redis-server of a test's own (to kill and restart). Shared by the tests
//! (`mod common`) and the benches (`#[path]`).

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

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

/// A port nobody listens on now (a process started next binds it).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A redis-server of the test's own on a free port, with AOF in a temporary directory; killed
/// when dropped.
pub struct OwnRedis {
    dir: tempfile::TempDir,
    port: u16,
    child: Option<Child>,
}

impl OwnRedis {
    /// Starts the server and waits until it answers.
    pub fn start() -> Self {
        let mut own = OwnRedis {
            dir: tempfile::tempdir().expect("a temporary directory"),
            port: free_port(),
            child: None,
        };
        own.restart();
        own
    }

    /// Its URL.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills the server (no shutdown save: only the AOF survives).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Kills the server if it runs, starts it again on the same port and directory, and waits
    /// until it answers.
    pub fn restart(&mut self) {
        self.kill();
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--appendonly", "yes", "--save", ""])
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server on PATH");
        self.child = Some(child);
        let client = redis::Client::open(self.url()).expect("redis URL");
        for _ in 0..100 {
            if client.get_connection().is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.kill();
    }
}
