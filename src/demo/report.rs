//! The demo's closing report: the campaign's counts per account, the items that did not simply
//! leave, and checks of the ledger against what the scenario planted and what the simulator
//! itself recorded. The full per-item report is written as the production CSV report.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use super::scenario::Expect;
use crate::accounts::{AccountReport, AccountState};
use crate::ledger::{Counts, Item};
use crate::simulator::Report as SimReport;

/// One account's line of the report.
#[derive(Debug, Clone, Serialize)]
pub struct AccountSummary {
    /// The account.
    pub account: String,
    /// Its provider.
    pub provider: String,
    /// Its quota.
    pub quota: String,
    /// Items in all.
    pub items: u64,
    /// Items per outcome (`pending` for those without one).
    pub outcomes: BTreeMap<String, u64>,
    /// Rate-limited attempts the ledger recorded for its items.
    pub throttled: u64,
    /// Requests the simulator received from it.
    pub requests: u64,
    /// 429s the simulator sent it: forced (the storm) and for its quota.
    pub forced_429: u64,
    /// 429s for exceeding its quota (0 when bulkleave kept to it).
    pub quota_429: u64,
    /// Why it is paused, if it is.
    pub paused: Option<String>,
}

/// One check of the outcome.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// What is checked.
    pub name: String,
    /// Whether it held.
    pub passed: bool,
    /// What was found.
    pub detail: String,
}

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct DemoReport {
    /// The campaign id.
    pub campaign: String,
    /// The prefix of the queue's keys.
    pub key_prefix: String,
    /// Keys removed from a Redis the demo was given (0 on the embedded one).
    pub keys_removed: usize,
    /// Seconds from the producer's start until the watch saw every item finished or waiting
    /// behind a paused account.
    pub elapsed_s: f64,
    /// The ledger's counts.
    pub counts: Counts,
    /// Per account.
    pub accounts: Vec<AccountSummary>,
    /// The checks.
    pub checks: Vec<Check>,
    /// Where the full CSV report was written.
    pub report_file: Option<String>,
}

impl DemoReport {
    /// Whether every check held.
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.passed)
    }
}

/// What the report is built from.
pub struct Inputs<'a> {
    /// The campaign.
    pub campaign: &'a str,
    /// The prefix of the queue's keys.
    pub key_prefix: &'a str,
    /// Seconds it ran.
    pub elapsed_s: f64,
    /// The ledger's counts and items.
    pub counts: Counts,
    /// The campaign's items from the ledger.
    pub items: &'a [Item],
    /// What each group (by account and group reference) should end as.
    pub expected: &'a BTreeMap<(String, String), Expect>,
    /// The accounts as the fleet sees them.
    pub fleet: &'a [AccountReport],
    /// The simulator's own record.
    pub simulator: &'a SimReport,
    /// The account of the 429 storm.
    pub storm_account: &'a str,
}

/// Builds the report and its checks.
pub fn build(inputs: Inputs<'_>) -> DemoReport {
    let mut accounts = Vec::new();
    for fleet in inputs.fleet {
        let mine: Vec<&Item> = inputs
            .items
            .iter()
            .filter(|i| i.account == fleet.account)
            .collect();
        let mut outcomes = BTreeMap::new();
        for item in &mine {
            let class = item.outcome.clone().unwrap_or_else(|| "pending".into());
            *outcomes.entry(class).or_default() += 1;
        }
        let sim = inputs.simulator.accounts.get(&fleet.account);
        accounts.push(AccountSummary {
            account: fleet.account.clone(),
            provider: fleet.provider.clone(),
            quota: fleet.quota.clone(),
            items: mine.len() as u64,
            outcomes,
            throttled: mine.iter().map(|i| i.throttled.max(0) as u64).sum(),
            requests: sim.map_or(0, |s| s.requests.total),
            forced_429: sim.map_or(0, |s| s.forced_429),
            quota_429: sim.map_or(0, |s| s.rate_limited),
            paused: (fleet.state == AccountState::Paused)
                .then(|| fleet.paused.clone().unwrap_or_default()),
        });
    }
    let checks = checks(&inputs, &accounts);
    DemoReport {
        campaign: inputs.campaign.to_owned(),
        key_prefix: inputs.key_prefix.to_owned(),
        keys_removed: 0,
        elapsed_s: inputs.elapsed_s,
        counts: inputs.counts,
        accounts,
        checks,
        report_file: None,
    }
}

fn checks(inputs: &Inputs<'_>, accounts: &[AccountSummary]) -> Vec<Check> {
    let mut checks = Vec::new();
    let mut check = |name: &str, passed: bool, detail: String| {
        checks.push(Check {
            name: name.to_owned(),
            passed,
            detail,
        });
    };

    // Every item ended as the scenario planted it.
    let mut wrong = Vec::new();
    for item in inputs.items {
        let key = (item.account.clone(), item.group_ref.clone());
        let want = inputs.expected.get(&key).and_then(|e| e.class());
        if item.outcome.as_deref() != want {
            wrong.push(format!(
                "{} {}: {} (expected {})",
                item.account,
                item.group_ref,
                item.outcome.as_deref().unwrap_or("pending"),
                want.unwrap_or("pending")
            ));
        }
    }
    for item in inputs.items {
        if !inputs
            .expected
            .contains_key(&(item.account.clone(), item.group_ref.clone()))
        {
            wrong.push(format!("{} {}: not planted", item.account, item.group_ref));
        }
    }
    let in_ledger: std::collections::HashSet<(&str, &str)> = inputs
        .items
        .iter()
        .map(|i| (i.account.as_str(), i.group_ref.as_str()))
        .collect();
    let missing = inputs
        .expected
        .keys()
        .filter(|(a, g)| !in_ledger.contains(&(a.as_str(), g.as_str())))
        .count();
    check(
        "every item has the outcome the scenario planted",
        wrong.is_empty() && missing == 0,
        if wrong.is_empty() && missing == 0 {
            format!("{} items as expected", inputs.items.len())
        } else {
            format!(
                "{} wrong, {missing} missing from the ledger: {}",
                wrong.len(),
                wrong.iter().take(5).cloned().collect::<Vec<_>>().join("; ")
            )
        },
    );

    // The ledger's `left` is what the provider really did, for every account the simulator
    // knows (not only those the fleet reports), and no request went to no account.
    let sim = &inputs.simulator;
    let mut disagree: Vec<String> = sim
        .accounts
        .iter()
        .filter_map(|(name, s)| {
            let left = inputs
                .items
                .iter()
                .filter(|i| &i.account == name && i.outcome.as_deref() == Some("left"))
                .count() as u64;
            (left != s.answers.leaves)
                .then(|| format!("{name}: ledger {left}, simulator {}", s.answers.leaves))
        })
        .collect();
    if sim.accounts.is_empty() {
        disagree.push("the simulator knows no account".into());
    }
    if sim.unattributed > 0 {
        disagree.push(format!(
            "{} requests no account was charged with",
            sim.unattributed
        ));
    }
    all_of(
        &mut check,
        "the ledger's leaves are the simulator's leaves",
        "every account agrees",
        disagree,
    );

    // Quotas held: the simulator never had to refuse a request for its quota.
    let over: Vec<String> = sim
        .accounts
        .iter()
        .filter(|(_, s)| s.rate_limited > 0)
        .map(|(name, s)| format!("{name}: {} refused", s.rate_limited))
        .collect();
    all_of(
        &mut check,
        "no account exceeded its quota",
        "0 quota 429s",
        over,
    );

    // The storm happened and was ridden out.
    let storm = accounts.iter().find(|a| a.account == inputs.storm_account);
    let (forced, pending) = storm.map_or((0, 0), |a| {
        (
            a.forced_429,
            a.outcomes.get("pending").copied().unwrap_or(0),
        )
    });
    check(
        "the 429 storm was retried through",
        forced > 0 && pending == 0,
        format!(
            "{} answered {forced} forced 429s; {pending} of its items unfinished",
            inputs.storm_account
        ),
    );

    // The broken account was paused at once and ran nothing more.
    for a in accounts.iter().filter(|a| {
        inputs
            .expected
            .iter()
            .any(|((acc, _), e)| acc == &a.account && *e == Expect::Waiting)
    }) {
        check(
            &format!("{} sent one request and was paused", a.account),
            a.paused.is_some() && a.requests == 1,
            format!(
                "{}; {} requests sent",
                a.paused.as_deref().unwrap_or("not paused"),
                a.requests
            ),
        );
    }
    checks
}

/// Adds the check `name`: passed when `problems` is empty (then `ok` is its detail).
fn all_of(check: &mut impl FnMut(&str, bool, String), name: &str, ok: &str, problems: Vec<String>) {
    if problems.is_empty() {
        check(name, true, ok.to_owned());
    } else {
        check(name, false, problems.join("; "));
    }
}

/// The report as text, for the terminal.
pub fn render(report: &DemoReport) -> String {
    const COLUMNS: [&str; 6] = [
        "left",
        "already_left",
        "group_gone",
        "owner_cannot_leave",
        "provider_error",
        "pending",
    ];
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\ncampaign {}: {} items in {:.1} s\n",
        report.campaign,
        report.accounts.iter().map(|a| a.items).sum::<u64>(),
        report.elapsed_s
    );
    let _ = writeln!(
        out,
        "{:<16} {:<10} {:>8} {:>5} {:>5} {:>12} {:>10} {:>8} {:>8} {:>7} {:>9} {:>9} {:>5}",
        "account",
        "provider",
        "quota",
        "items",
        "left",
        "already_left",
        "group_gone",
        "owner",
        "failed",
        "waiting",
        "throttled",
        "requests",
        "429s"
    );
    for a in &report.accounts {
        let n = |class: &str| a.outcomes.get(class).copied().unwrap_or(0);
        let _ = writeln!(
            out,
            "{:<16} {:<10} {:>8} {:>5} {:>5} {:>12} {:>10} {:>8} {:>8} {:>7} {:>9} {:>9} {:>5}",
            a.account,
            a.provider,
            a.quota,
            a.items,
            n(COLUMNS[0]),
            n(COLUMNS[1]),
            n(COLUMNS[2]),
            n(COLUMNS[3]),
            a.outcomes
                .iter()
                .filter(|(c, _)| !COLUMNS[..4].contains(&c.as_str()) && c.as_str() != "pending")
                .map(|(_, n)| n)
                .sum::<u64>(),
            n(COLUMNS[5]),
            a.throttled,
            a.requests,
            a.forced_429 + a.quota_429
        );
    }
    for a in report.accounts.iter().filter(|a| a.paused.is_some()) {
        let _ = writeln!(
            out,
            "\n{} is paused ({}): its {} items wait, unrun. After fixing its credential:\n  \
             bulkleave account resume {}",
            a.account,
            a.paused.as_deref().unwrap_or_default(),
            a.outcomes.get("pending").copied().unwrap_or(0),
            a.account
        );
    }
    let _ = writeln!(out, "\nchecks:");
    for c in &report.checks {
        let mark = if c.passed { "ok  " } else { "FAIL" };
        let _ = writeln!(out, "  {mark} {}: {}", c.name, c.detail);
    }
    if let Some(file) = &report.report_file {
        let _ = writeln!(
            out,
            "\nevery item, with its outcome, the provider's answer and attempts: {file}"
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(account: &str, group: &str, outcome: Option<&str>) -> Item {
        Item {
            job_id: format!("{account}-{group}"),
            campaign_id: Some("c".into()),
            line: None,
            provider: "wasend".into(),
            account: account.into(),
            group_ref: group.into(),
            requested_by: None,
            created_at: chrono::Utc::now(),
            queued_at: None,
            outcome: outcome.map(str::to_owned),
            success: None,
            dead_letter: false,
            detail: None,
            attempts: 1,
            throttled: 0,
            first_attempt_at: None,
            last_attempt_at: None,
            last_error: None,
            http_status: None,
            answer: None,
        }
    }

    fn simulator(accounts: &[(&str, u64, u64)]) -> SimReport {
        use crate::simulator::{AnswerCounts, FaultCounts, RequestCounts};
        let accounts = accounts
            .iter()
            .map(|&(name, leaves, rate_limited)| {
                let report = serde_json::json!({
                    "provider": "wasend",
                    "quota": "10/min",
                    "requests": RequestCounts::default(),
                    "accepted": leaves,
                    "rate_limited": rate_limited,
                    "forced_429": 0,
                    "faults": FaultCounts::default(),
                    "answers": AnswerCounts { leaves, ..AnswerCounts::default() },
                    "first_request_ms": null,
                    "last_request_ms": null,
                    "busiest_window": 0,
                    "excess": 0,
                    "achieved_rate_per_s": null,
                });
                (name.to_owned(), serde_json::from_value(report).unwrap())
            })
            .collect();
        SimReport {
            started_at_unix_ms: 0,
            elapsed_ms: 0.0,
            accounts,
            unattributed: 0,
        }
    }

    fn report_of(
        expected: &BTreeMap<(String, String), Expect>,
        items: &[Item],
        simulator: &SimReport,
    ) -> DemoReport {
        build(Inputs {
            campaign: "c",
            key_prefix: "demo-test",
            elapsed_s: 1.0,
            counts: Counts::default(),
            items,
            expected,
            fleet: &[],
            simulator,
            storm_account: "w",
        })
    }

    fn check<'a>(report: &'a DemoReport, name: &str) -> &'a Check {
        report
            .checks
            .iter()
            .find(|c| c.name.contains(name))
            .unwrap()
    }

    #[test]
    fn the_checks_fail_on_a_wrong_missing_or_unplanted_item_and_a_missing_storm() {
        let expected: BTreeMap<(String, String), Expect> = [
            (("w".to_owned(), "g1".to_owned()), Expect::Left),
            (("w".to_owned(), "g2".to_owned()), Expect::OwnerCannotLeave),
            (("w".to_owned(), "g3".to_owned()), Expect::Waiting),
        ]
        .into();
        let items = [
            item("w", "g1", Some("left")),
            // A failure counted as a success would be a lie: the check must catch it.
            item("w", "g2", Some("left")),
            // Pending like the planted g3, but never planted: g3 itself is missing.
            item("w", "g9", None),
        ];
        let report = report_of(&expected, &items, &simulator(&[("w", 2, 0)]));
        assert!(!report.passed());
        let planted = check(&report, "planted");
        assert!(!planted.passed);
        assert!(
            planted.detail.contains("2 wrong, 1 missing")
                && planted.detail.contains("w g2: left")
                && planted.detail.contains("w g9: not planted"),
            "{}",
            planted.detail
        );
        assert!(check(&report, "leaves").passed, "2 left, 2 leaves");
        assert!(!check(&report, "storm").passed, "no forced 429 was seen");
    }

    #[test]
    fn the_leaves_and_quota_checks_name_the_accounts_that_disagree() {
        let expected: BTreeMap<(String, String), Expect> = [
            (("ok".to_owned(), "g1".to_owned()), Expect::Left),
            (("bad".to_owned(), "g2".to_owned()), Expect::Left),
        ]
        .into();
        let items = [
            item("ok", "g1", Some("left")),
            item("bad", "g2", Some("left")),
        ];
        let report = report_of(
            &expected,
            &items,
            &simulator(&[("ok", 1, 0), ("bad", 0, 3)]),
        );
        assert!(check(&report, "planted").passed);
        let leaves = check(&report, "leaves");
        assert!(!leaves.passed);
        assert_eq!(leaves.detail, "bad: ledger 1, simulator 0");
        let quota = check(&report, "quota");
        assert!(!quota.passed);
        assert_eq!(quota.detail, "bad: 3 refused");

        let none = report_of(&expected, &items, &simulator(&[]));
        assert!(!check(&none, "leaves").passed, "no account is no proof");
    }
}
