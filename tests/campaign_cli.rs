//! The campaign command line through the built binary: `migrate`, `enqueue --campaign NAME
//! FILE` (CSV and NDJSON, rejected rows with their lines, exit 65), `campaign list|status|
//! report|pause|resume|cancel` as tables and `--json`. Real Redis and PostgreSQL.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashMap;
use std::io::Write as _;
use std::process::Output;

struct Cli {
    env: HashMap<String, String>,
    prefix: String,
}

impl Cli {
    async fn new() -> Cli {
        let redis = common::redis_settings();
        let db = common::db::empty_database().await;
        let env: HashMap<String, String> = [
            ("BULKLEAVE__REDIS__URL", redis.url.expose().as_str()),
            ("BULKLEAVE__REDIS__KEY_PREFIX", redis.key_prefix.as_str()),
            ("BULKLEAVE__DATABASE__URL", db.as_str()),
            ("BULKLEAVE__ACCOUNTS__W__PROVIDER", "wasend"),
            ("BULKLEAVE__ACCOUNTS__W__SESSION_ID", "s"),
            ("BULKLEAVE__ACCOUNTS__W__CREDENTIAL__ENV", "W_KEY"),
            ("W_KEY", common::CANARY),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        Cli {
            env,
            prefix: redis.key_prefix,
        }
    }

    async fn run(&self, args: &[&str]) -> Output {
        tokio::process::Command::new(env!("CARGO_BIN_EXE_bulkleave"))
            .args(args)
            .env_remove("BULKLEAVE_CONFIG")
            .envs(&self.env)
            .output()
            .await
            .unwrap()
    }
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn file(suffix: &str, body: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::Builder::new().suffix(suffix).tempfile().unwrap();
    f.write_all(body.as_bytes()).unwrap();
    f
}

#[tokio::test]
async fn an_operator_runs_a_campaign_from_files() {
    let cli = Cli::new().await;
    let out = cli.run(&["migrate"]).await;
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    assert!(text(&out).0.contains("ledger schema up to date"));

    let csv = file(
        ".csv",
        "provider,account,group\n\
         wasend,w,120363406280000001@g.us\n\
         wasend,w,not-a-group\n\
         wasend,w,\"120363406280000002@g.us\"\n\
         wasend,ghost,120363406280000003@g.us\n",
    );
    let path = csv.path().to_str().unwrap();
    let out = cli
        .run(&["enqueue", "--campaign", "hr-7", path, "--keep-open"])
        .await;
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(65), "{stdout}{stderr}");
    assert!(
        stdout.contains("campaign hr-7: 4 rows read, 2 added, 2 rejected"),
        "{stdout}"
    );
    let lines: Vec<&str> = stdout
        .lines()
        .filter(|l| l.trim_start().starts_with(['3', '5']))
        .collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert!(lines[0].contains("group"), "{stdout}");
    assert!(
        lines[1].contains("account") && lines[1].contains("not a configured account"),
        "{stdout}"
    );

    // More items from NDJSON into the open campaign, then it is closed.
    let nd = file(
        ".ndjson",
        "{\"provider\":\"wasend\",\"account\":\"w\",\"group\":\"120363406280000004@g.us\"}\n",
    );
    let out = cli
        .run(&["enqueue", "--campaign", "hr-7", nd.path().to_str().unwrap()])
        .await;
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));

    let out = cli.run(&["campaign", "status", "hr-7", "--json"]).await;
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["campaign"]["items"], 3);
    assert_eq!(status["campaign"]["pending"], 3);
    assert_eq!(status["campaign"]["accepting"], false);
    assert_eq!(status["counts"]["by_outcome"]["pending"], 3);
    assert_eq!(status["counts"]["by_account"]["w"]["pending"], 3);

    let out = cli.run(&["campaign", "status", "hr-7"]).await;
    let (stdout, _) = text(&out);
    assert!(stdout.contains("campaign hr-7  running"), "{stdout}");
    assert!(stdout.contains("items 3  pending 3"), "{stdout}");

    let out = cli.run(&["campaign", "list"]).await;
    let (stdout, _) = text(&out);
    assert!(stdout.starts_with("CAMPAIGN"), "{stdout}");
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("hr-7") && l.contains("running")),
        "{stdout}"
    );

    let out = cli.run(&["campaign", "report", "hr-7"]).await;
    let (stdout, _) = text(&out);
    assert!(
        stdout.starts_with("job_id,line,provider,account,group,outcome"),
        "{stdout}"
    );
    assert_eq!(stdout.lines().count(), 4, "{stdout}");
    assert!(stdout.contains(",pending,"), "{stdout}");
    let out = cli.run(&["campaign", "report", "hr-7", "--json"]).await;
    let first: serde_json::Value =
        serde_json::from_str(text(&out).0.lines().next().unwrap()).unwrap();
    assert_eq!(first["group"], "120363406280000001@g.us");
    assert_eq!(first["line"], 2);

    let out = cli.run(&["campaign", "pause", "hr-7"]).await;
    assert!(
        text(&out).0.contains("campaign hr-7: paused"),
        "{:?}",
        text(&out)
    );
    let out = cli.run(&["campaign", "cancel", "hr-7", "--json"]).await;
    let c: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(c["state"], "cancelled");
    let out = cli.run(&["campaign", "resume", "hr-7"]).await;
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(64), "{stderr}");
    assert!(stderr.contains("cancelled: cannot resume"), "{stderr}");
    let out = cli.run(&["campaign", "status", "nope"]).await;
    assert_eq!(out.status.code(), Some(64));
    assert!(text(&out).1.contains("campaign \"nope\" does not exist"));

    let out = cli.run(&["campaign", "list", "--json"]).await;
    let (stdout, stderr) = text(&out);
    assert!(stdout.contains("\"id\":\"hr-7\""), "{stdout}");
    assert!(!stdout.contains(common::CANARY) && !stderr.contains(common::CANARY));
    common::drop_prefix(&cli.prefix).await;
}

#[tokio::test]
async fn an_unreadable_file_adds_nothing() {
    let cli = Cli::new().await;
    assert_eq!(cli.run(&["migrate"]).await.status.code(), Some(0));
    let csv = file(
        ".csv",
        "provider,account,grp\nwasend,w,120363406280000001@g.us\n",
    );
    let out = cli
        .run(&["enqueue", "--campaign", "x", csv.path().to_str().unwrap()])
        .await;
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(stderr.contains("nothing added"), "{stderr}");
    let out = cli.run(&["campaign", "status", "x", "--json"]).await;
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["campaign"]["items"], 0);
    let out = cli
        .run(&["enqueue", "--campaign", "x", "/nonexistent/f.csv"])
        .await;
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(64), "{stdout}{stderr}");
    assert!(
        stderr.contains("FILE: cannot open /nonexistent/f.csv"),
        "{stderr}"
    );
    let out = cli
        .run(&["enqueue", "--campaign", "x", "/nonexistent/file.txt"])
        .await;
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(64), "{stdout}{stderr}");
    assert!(stderr.contains("is neither .csv nor"), "{stderr}");
    common::drop_prefix(&cli.prefix).await;
}

#[tokio::test]
async fn an_upload_the_campaign_refuses_is_a_bad_argument() {
    let cli = Cli::new().await;
    assert_eq!(cli.run(&["migrate"]).await.status.code(), Some(0));
    let csv = file(
        ".csv",
        "provider,account,group\nwasend,w,120363406280000001@g.us\n",
    );
    let path = csv.path().to_str().unwrap();
    // Closed after the file (the default): it takes no more.
    let out = cli.run(&["enqueue", "--campaign", "shut", path]).await;
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    let out = cli.run(&["enqueue", "--campaign", "shut", path]).await;
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(64), "{stdout}{stderr}");
    assert!(stderr.contains("nothing added"), "{stderr}");
    assert!(stderr.contains("cannot add items"), "{stderr}");
    // An invalid campaign id is a bad argument too.
    let out = cli.run(&["enqueue", "--campaign", "no spaces", path]).await;
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(64), "{stdout}{stderr}");
    assert!(stderr.contains("--campaign"), "{stderr}");
    common::drop_prefix(&cli.prefix).await;
}

#[tokio::test]
async fn a_report_stops_at_the_first_failed_write() {
    let cli = Cli::new().await;
    assert_eq!(cli.run(&["migrate"]).await.status.code(), Some(0));
    let rows: String = (1..=50)
        .map(|i| format!("wasend,w,1203634062{i:08}@g.us\n"))
        .collect();
    let csv = file(".csv", &format!("provider,account,group\n{rows}"));
    let out = cli
        .run(&["enqueue", "--campaign", "rep", csv.path().to_str().unwrap()])
        .await;
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    let report = || {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_bulkleave"));
        cmd.args(["campaign", "report", "rep"])
            .env_remove("BULKLEAVE_CONFIG")
            .envs(&cli.env)
            .stderr(std::process::Stdio::piped());
        cmd
    };
    // A full disk is an error, said as such.
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    // (`output()` would pipe stdout: spawn with it on /dev/full instead.)
    let out = report()
        .stdout(full)
        .spawn()
        .unwrap()
        .wait_with_output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("writing to standard output"), "{stderr}");
    // A reader that went away (`| head`) is not.
    let mut child = report()
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let status = child.wait().await.unwrap();
    assert_eq!(status.code(), Some(0));
    common::drop_prefix(&cli.prefix).await;
}
