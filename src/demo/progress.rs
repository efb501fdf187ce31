//! Live progress of the demo: a bar per account with its rate and ETA on a terminal, or one
//! plain line per account every few seconds otherwise (logs, CI, tests).
//!
//! The figures come from the same places an operator's views take them: items done from the
//! ledger's counts, and each account's state and ETA from [`crate::accounts`] (the fleet's
//! shared quota state in Redis).

use std::collections::{BTreeMap, VecDeque};
use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::accounts::{AccountReport, AccountState};
use crate::quota::Eta;

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Display {
    /// Bars on a terminal, lines otherwise.
    #[default]
    Auto,
    /// A bar per account.
    Bars,
    /// A line per account every 5 seconds.
    Lines,
    /// Nothing until the report.
    Off,
}

/// One account's figures at one moment.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// Items in all.
    pub total: u64,
    /// Items with a final outcome.
    pub done: u64,
    /// The account as the fleet sees it.
    pub account: AccountReport,
}

/// How often plain lines are printed.
const LINE_EVERY: Duration = Duration::from_secs(5);
/// The window the rate is measured over.
const RATE_WINDOW: Duration = Duration::from_secs(5);

/// The progress display.
pub struct Progress {
    mode: Mode,
    started: Instant,
    /// Per account: recent (instant, done) samples for the rate.
    samples: BTreeMap<String, VecDeque<(Instant, u64)>>,
}

enum Mode {
    Bars {
        _multi: MultiProgress,
        bars: BTreeMap<String, ProgressBar>,
    },
    Lines {
        next: Instant,
    },
    Off,
}

impl Progress {
    /// A display for `accounts` (name, items), shown as `display` says.
    pub fn new(display: Display, accounts: &[(String, u64)]) -> Self {
        let bars = match display {
            Display::Bars => true,
            Display::Auto => std::io::stderr().is_terminal(),
            Display::Lines | Display::Off => false,
        };
        let mode = if bars {
            let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template(
                "{prefix:>16} [{bar:32.green/dim}] {pos:>4}/{len:<4} {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
            let bars = accounts
                .iter()
                .map(|(name, total)| {
                    let bar = multi.add(ProgressBar::new(*total));
                    bar.set_style(style.clone());
                    bar.set_prefix(name.clone());
                    (name.clone(), bar)
                })
                .collect();
            Mode::Bars {
                _multi: multi,
                bars,
            }
        } else if display == Display::Off {
            Mode::Off
        } else {
            Mode::Lines {
                next: Instant::now() + LINE_EVERY,
            }
        };
        Progress {
            mode,
            started: Instant::now(),
            samples: BTreeMap::new(),
        }
    }

    /// Shows `snapshots` (by account name).
    pub fn update(&mut self, snapshots: &BTreeMap<String, Snapshot>) {
        let now = Instant::now();
        let mut rates = BTreeMap::new();
        for (name, s) in snapshots {
            let samples = self.samples.entry(name.clone()).or_default();
            samples.push_back((now, s.done));
            while samples
                .front()
                .is_some_and(|(at, _)| now.duration_since(*at) > RATE_WINDOW)
            {
                samples.pop_front();
            }
            rates.insert(name.clone(), rate(samples));
        }
        match &mut self.mode {
            Mode::Bars { bars, .. } => {
                for (name, s) in snapshots {
                    if let Some(bar) = bars.get(name) {
                        bar.set_position(s.done);
                        bar.set_message(describe(s, rates[name]));
                    }
                }
            }
            Mode::Lines { next } if now >= *next => {
                *next = now + LINE_EVERY;
                let elapsed = self.started.elapsed().as_secs();
                for (name, s) in snapshots {
                    eprintln!(
                        "[{elapsed:>3}s] {name:>16} {:>4}/{:<4} {}",
                        s.done,
                        s.total,
                        describe(s, rates[name])
                    );
                }
            }
            Mode::Lines { .. } | Mode::Off => {}
        }
    }

    /// Leaves the bars as they are (complete or not) and stops drawing.
    pub fn finish(self) {
        if let Mode::Bars { bars, .. } = self.mode {
            for bar in bars.values() {
                bar.abandon();
            }
        }
    }
}

/// Items per second over the samples.
fn rate(samples: &VecDeque<(Instant, u64)>) -> f64 {
    match (samples.front(), samples.back()) {
        (Some((t0, d0)), Some((t1, d1))) if t1 > t0 => {
            d1.saturating_sub(*d0) as f64 / t1.duration_since(*t0).as_secs_f64()
        }
        _ => 0.0,
    }
}

/// The account's state, rate and ETA in a few words.
fn describe(s: &Snapshot, rate: f64) -> String {
    let a = &s.account;
    match a.state {
        AccountState::Paused => format!(
            "paused, {} waiting: {}",
            s.total.saturating_sub(s.done),
            crate::job::shorten(a.paused.as_deref().unwrap_or("by an operator"), 60)
        ),
        _ if s.done >= s.total => "done".to_owned(),
        AccountState::CoolingDown => format!(
            "{rate:5.1}/s  cooling down: {}",
            crate::job::shorten(a.cooldown_reason.as_deref().unwrap_or("retry later"), 60)
        ),
        AccountState::Active => match a.eta {
            Eta::At { at_ms } => format!(
                "{rate:5.1}/s (pace {:.1}/s)  ETA {}s",
                a.effective_per_second,
                at_ms.saturating_sub(a.now_ms).div_ceil(1000)
            ),
            Eta::Idle | Eta::Paused => {
                format!("{rate:5.1}/s (pace {:.1}/s)", a.effective_per_second)
            }
        },
    }
}
