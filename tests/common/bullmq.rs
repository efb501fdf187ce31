//! BullMQ, the reference system of the benches: npm `bullmq@6` with `ioredis@5`, installed on
//! first use into `target/bench-node`, its scripts (`benches/bullmq/*.mjs`) run there with
//! `node`. Shared by the benches (`#[path]`).

use std::path::{Path, PathBuf};
use std::process::Command;

/// Where BullMQ is installed and its scripts run.
pub fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-node")
}

/// Installs BullMQ unless it is there; whether it is usable.
pub fn install() -> bool {
    let dir = dir();
    if dir.join("node_modules/bullmq").exists() && dir.join("node_modules/ioredis").exists() {
        return true;
    }
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(
        dir.join("package.json"),
        r#"{"name":"bench","private":true,"type":"module"}"#,
    )
    .expect("write");
    let installed = Command::new("npm")
        .args(["install", "--silent", "bullmq@6", "ioredis@5"])
        .current_dir(&dir)
        .status()
        .is_ok_and(|s| s.success());
    if !installed {
        eprintln!("BullMQ could not be installed (npm install bullmq@6 ioredis@5 failed)");
    }
    installed
}

/// What the scripts share (`benches/bullmq/common.mjs`), written next to each.
const COMMON: &str = include_str!("../../benches/bullmq/common.mjs");

/// `node <name> <args…>` in [`dir`], after writing `source` there as `name` (and the shared
/// `common.mjs` it imports).
pub fn node(name: &str, source: &str, args: &[String]) -> Command {
    let dir = dir();
    std::fs::write(dir.join("common.mjs"), COMMON).expect("write the BullMQ scripts");
    std::fs::write(dir.join(name), source).expect("write the BullMQ script");
    let mut cmd = Command::new("node");
    cmd.arg(name).args(args).current_dir(dir);
    cmd
}

/// The version of BullMQ installed (its `package.json`), for the reports.
pub fn version() -> String {
    std::fs::read_to_string(dir().join("node_modules/bullmq/package.json"))
        .ok()
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
        .and_then(|v| v["version"].as_str().map(str::to_owned))
        .unwrap_or_else(|| "?".to_owned())
}
