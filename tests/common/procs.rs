//! Real processes for tests and benchmarks: `bulkleave worker` (start it, signal it, stop it),
//! a redis-server of a test's own (to kill and restart), and what `/proc` says about any
//! process (memory, CPU time). Shared by the tests
//! (`mod common`) and the benches (`#[path]`).

use std::collections::{BTreeMap, HashMap};
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
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "redis-server on port {} did not answer within 5 s",
            self.port
        );
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A `kB` field of `/proc/<pid>/status` (`VmRSS`: resident now, `VmHWM`: the most it has
/// been), in KiB; `None` once the process is gone.
pub fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
}

/// CPU time (user + system) a process has used so far, in clock ticks.
pub fn cpu_ticks(pid: u32) -> u64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0;
    };
    // Fields after the command name (which may hold spaces): utime and stime are 14 and 15.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |i: usize| fields.get(i - 3).and_then(|v| v.parse::<u64>().ok());
    field(14).unwrap_or(0) + field(15).unwrap_or(0)
}

/// CPU ticks of every process named `comm` (e.g. `postgres`), by pid: processes come and go,
/// so compare two readings per pid.
pub fn cpu_ticks_of(comm: &str) -> BTreeMap<u32, u64> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return BTreeMap::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == comm)
        })
        .map(|pid| (pid, cpu_ticks(pid)))
        .collect()
}
