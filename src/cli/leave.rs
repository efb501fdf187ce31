//! `bulkleave leave --account NAME --group REF`: one leave through the adapter, no queue.

use std::time::SystemTime;

use clap::Args;
use serde_json::json;

use super::EXIT_BAD_ARGUMENT;
use crate::config::Settings;
use crate::job::LeaveRequest;
use crate::providers::http::ClientOptions;
use crate::providers::{AttemptReport, HttpClient, Outcome, Registry};

/// Arguments of `bulkleave leave`.
#[derive(Debug, Args)]
pub struct LeaveArgs {
    /// The configured account that leaves.
    #[arg(long, value_name = "NAME")]
    pub account: String,
    /// The group: a WhatsApp group JID, a RyzeAPI invite code or link, or a Kirimin group id.
    #[arg(long, value_name = "REF")]
    pub group: String,
    /// Print the outcome as one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Performs the leave and prints the outcome; returns the exit code of its class.
pub(super) async fn run(settings: &Settings, args: LeaveArgs) -> u8 {
    let request = match super::request(settings, &args.account, &args.group) {
        Ok(r) => r,
        Err(message) => {
            eprintln!("bulkleave: {message}");
            return EXIT_BAD_ARGUMENT;
        }
    };
    let http = match HttpClient::new(&ClientOptions {
        connect_timeout: settings.http.connect_timeout,
        max_body_bytes: settings.http.max_body_bytes,
    }) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("bulkleave: {e}");
            return 1;
        }
    };
    let registry = Registry::new(&http, settings);
    let adapter = match registry.route(&request) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("bulkleave: {e}");
            return EXIT_BAD_ARGUMENT;
        }
    };
    let report = adapter.leave(&request.group).await;
    if args.json {
        println!("{}", to_json(&request, &report));
    } else {
        print!("{}", to_text(&request, &report));
    }
    report.outcome.class().exit_code()
}

fn to_json(request: &LeaveRequest, report: &AttemptReport) -> serde_json::Value {
    json!({
        "account": request.account,
        "provider": request.provider,
        "group": request.group.as_str(),
        "outcome": report.outcome,
        "answer": report.answer,
        "requests": report.requests,
        "elapsed_ms": u64::try_from(report.elapsed.as_millis()).unwrap_or(u64::MAX),
    })
}

fn to_text(request: &LeaveRequest, report: &AttemptReport) -> String {
    let class = report.outcome.class();
    let verdict = if class.is_success() {
        "success"
    } else {
        "not done"
    };
    let mut out = format!(
        "outcome:  {class} ({verdict})\ndetail:   {}\naccount:  {} ({})\ngroup:    {}\n",
        report.outcome.detail(),
        request.account,
        request.provider,
        request.group,
    );
    if let Some(answer) = &report.answer {
        out.push_str(&format!(
            "answer:   HTTP {} {}\n",
            answer.status, answer.body
        ));
    }
    if let Outcome::RetryLater {
        hint: Some(hint), ..
    } = &report.outcome
    {
        let wait = hint.wait_from(SystemTime::now());
        out.push_str(&format!(
            "retry:    in {} ({:?})\n",
            humantime::format_duration(std::time::Duration::from_secs(wait.as_secs())),
            hint.source
        ));
    }
    out.push_str(&format!(
        "requests: {} in {} ms\n",
        report.requests,
        report.elapsed.as_millis()
    ));
    out
}
