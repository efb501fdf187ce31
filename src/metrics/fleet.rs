//! The fleet's state as gauges, read at scrape time from Redis (and the ledger, when the
//! process has one): queue depth split into runnable and waiting, per-account quota and state,
//! dead letters, the progress of campaigns under way.
//!
//! These numbers are the same from every process that serves them (they describe the shared
//! queue, not the process): aggregate them with `max`, not `sum`. A read is bounded by
//! [`FleetOptions::read_timeout`] and its result reused for [`FleetOptions::cache_for`], so
//! many scrapers cost Redis one read per interval. When a read fails, `bulkleave_fleet_up` is
//! 0 and the fleet gauges are left out rather than shown stale.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

use crate::accounts::{self, AccountReport};
use crate::config::Settings;
use crate::ledger::{CampaignProgress, CampaignState, Ledger};
use crate::queue::{Queue, QueueDepth};

/// Default bound on one read of the fleet's state.
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(2);
/// Default time a read is reused for further scrapes.
pub const DEFAULT_CACHE_FOR: Duration = Duration::from_secs(2);
/// Default cap on the campaigns reported (the newest that have not ended).
pub const DEFAULT_MAX_CAMPAIGNS: i64 = 20;

/// How the fleet's state is read, with documented defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FleetOptions {
    /// Bound on one read. Default [`DEFAULT_READ_TIMEOUT`].
    pub read_timeout: Duration,
    /// How long a read is reused. Default [`DEFAULT_CACHE_FOR`].
    pub cache_for: Duration,
    /// Campaigns reported at most. Default [`DEFAULT_MAX_CAMPAIGNS`].
    pub max_campaigns: i64,
}

impl Default for FleetOptions {
    fn default() -> Self {
        FleetOptions {
            read_timeout: DEFAULT_READ_TIMEOUT,
            cache_for: DEFAULT_CACHE_FOR,
            max_campaigns: DEFAULT_MAX_CAMPAIGNS,
        }
    }
}

/// One read of the fleet's state.
#[derive(Debug, Clone, Default)]
struct Snapshot {
    depth: QueueDepth,
    /// One per configured account, in the order of `Settings::accounts`.
    accounts: Vec<AccountReport>,
    /// `None` without a ledger, or when it could not be read.
    campaigns: Option<Vec<(CampaignProgress, u64)>>,
}

/// The fleet gauges: a [`Collector`] whose values [`Fleet::refresh`] reads before each encoding.
#[derive(Debug)]
pub struct Fleet {
    settings: Arc<Settings>,
    queue: Queue,
    ledger: Option<Ledger>,
    options: FleetOptions,
    /// Held while reading, so concurrent scrapes wait for one read instead of each making one.
    reading: tokio::sync::Mutex<()>,
    /// The last read: when it was taken, and the snapshot (`None`: it failed). The next
    /// encoding shows it.
    last: Mutex<Option<(Instant, Option<Arc<Snapshot>>)>>,
}

impl Fleet {
    /// Gauges for the accounts of `settings`, read from `queue` (and `ledger` for campaigns).
    pub fn new(
        settings: Arc<Settings>,
        queue: Queue,
        ledger: Option<Ledger>,
        options: FleetOptions,
    ) -> Self {
        Fleet {
            settings,
            queue,
            ledger,
            options,
            reading: tokio::sync::Mutex::new(()),
            last: Mutex::new(None),
        }
    }

    /// Reads the fleet's state unless a read younger than `cache_for` exists; the next
    /// encoding shows it. The queue and the campaigns are read at the same time, each within
    /// `read_timeout`, so a refresh takes `read_timeout` at most.
    pub async fn refresh(&self) {
        let _reading = self.reading.lock().await;
        let fresh = self
            .last()
            .as_ref()
            .is_some_and(|(at, _)| at.elapsed() < self.options.cache_for);
        if fresh {
            return;
        }
        let (read, campaigns) = tokio::join!(
            tokio::time::timeout(self.options.read_timeout, self.read()),
            self.campaigns(),
        );
        let snapshot = match read {
            Ok(Ok(mut s)) => {
                s.campaigns = campaigns;
                Some(Arc::new(s))
            }
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "metrics: cannot read the queue's state");
                None
            }
            Err(_) => {
                tracing::warn!("metrics: reading the queue's state timed out");
                None
            }
        };
        *self.last() = Some((Instant::now(), snapshot));
    }

    fn last(&self) -> std::sync::MutexGuard<'_, Option<(Instant, Option<Arc<Snapshot>>)>> {
        self.last.lock().unwrap_or_else(PoisonError::into_inner)
    }

    async fn read(&self) -> crate::queue::Result<Snapshot> {
        let (depth, accounts) = tokio::try_join!(
            self.queue.depth(),
            accounts::report_all(&self.settings, &self.queue),
        )?;
        Ok(Snapshot {
            depth,
            accounts,
            campaigns: None,
        })
    }

    /// The campaigns under way and their held jobs; `None` without a ledger or when it cannot
    /// be read within the timeout (PostgreSQL down never hides the queue's gauges).
    async fn campaigns(&self) -> Option<Vec<(CampaignProgress, u64)>> {
        let ledger = self.ledger.as_ref()?;
        let read = async {
            let progress = ledger
                .campaign_progress(self.options.max_campaigns)
                .await
                .map_err(|e| e.to_string())?;
            let ids: Vec<&str> = progress.iter().map(|p| p.id.as_str()).collect();
            let held = self
                .queue
                .campaign_held(&ids)
                .await
                .map_err(|e| e.to_string())?;
            Ok::<_, String>(progress.into_iter().zip(held).collect())
        };
        match tokio::time::timeout(self.options.read_timeout, read).await {
            Ok(Ok(campaigns)) => Some(campaigns),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "metrics: cannot read campaign progress");
                None
            }
            Err(_) => {
                tracing::warn!("metrics: reading campaign progress timed out");
                None
            }
        }
    }
}

/// Writes one gauge family: `name` with `help`, a value per label set.
fn gauges<L: EncodeLabelSet, V: prometheus_client::encoding::EncodeGaugeValue + Copy>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    rows: impl IntoIterator<Item = (L, V)>,
) -> Result<(), std::fmt::Error> {
    let mut metric = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
    for (labels, value) in rows {
        ConstGauge::new(value).encode(metric.encode_family(&labels)?)?;
    }
    Ok(())
}

/// Writes one gauge without labels.
fn gauge(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: u64,
) -> Result<(), std::fmt::Error> {
    let metric = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
    ConstGauge::new(value).encode(metric)
}

fn secs_until(at_ms: Option<u64>, now_ms: u64) -> f64 {
    at_ms.map_or(0.0, |at| at.saturating_sub(now_ms) as f64 / 1000.0)
}

impl Collector for Fleet {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let current = self.last().as_ref().and_then(|(_, s)| s.clone());
        gauge(
            &mut encoder,
            "bulkleave_fleet_up",
            "1 when the last read of the queue's state (Redis) succeeded within its timeout",
            u64::from(current.is_some()),
        )?;
        let Some(s) = current else {
            return Ok(());
        };
        let d = &s.depth;
        let held: u64 = s.campaigns.iter().flatten().map(|(_, held)| held).sum();
        let parked: u64 = s.accounts.iter().map(|a| a.parked).sum();
        let mut depth = vec![
            (vec![("state", "runnable")], d.runnable()),
            (vec![("state", "in_flight")], d.in_flight),
            (
                vec![("state", "waiting"), ("reason", "quota")],
                d.waiting_quota(),
            ),
            (
                vec![("state", "waiting"), ("reason", "retry")],
                d.waiting_retry(),
            ),
            (
                vec![("state", "waiting"), ("reason", "account_paused")],
                parked,
            ),
        ];
        if s.campaigns.is_some() {
            depth.push((
                vec![("state", "waiting"), ("reason", "campaign_paused")],
                held,
            ));
        }
        gauges(
            &mut encoder,
            "bulkleave_queue_jobs",
            "Jobs in the queue by state: runnable (a worker could start them now: scale on \
             this), in_flight (held by a worker), waiting (for quota, a retry's backoff or a \
             paused account or campaign: more workers do not help)",
            depth,
        )?;
        gauge(
            &mut encoder,
            "bulkleave_dead_letters",
            "Jobs in the dead-letter set",
            d.dead,
        )?;
        self.encode_accounts(&mut encoder, &s)?;
        if let Some(campaigns) = &s.campaigns {
            encode_campaigns(&mut encoder, campaigns)?;
        }
        Ok(())
    }
}

impl Fleet {
    fn encode_accounts(
        &self,
        encoder: &mut DescriptorEncoder,
        s: &Snapshot,
    ) -> Result<(), std::fmt::Error> {
        let labels = |a: &AccountReport| {
            [
                ("account", a.account.clone()),
                ("provider", a.provider.clone()),
            ]
        };
        let each = |f: &dyn Fn(&AccountReport) -> f64| {
            s.accounts
                .iter()
                .map(|a| (labels(a), f(a)))
                .collect::<Vec<_>>()
        };
        gauges(
            encoder,
            "bulkleave_account_quota_per_second",
            "The account's quota in force (N/period), in requests per second",
            s.accounts
                .iter()
                .zip(self.settings.accounts.values())
                .map(|(a, settings)| (labels(a), self.settings.quota(settings).per_second_f64())),
        )?;
        gauges(
            encoder,
            "bulkleave_account_effective_per_second",
            "The account's effective rate now: its quota within the window's headroom, lowered \
             after 429s (AIMD)",
            each(&|a| a.effective_per_second),
        )?;
        gauges(
            encoder,
            "bulkleave_account_cooldown_seconds",
            "Seconds until the account's cooldown ends (0: not cooling down)",
            each(&|a| secs_until(a.cooldown_until_ms, a.now_ms)),
        )?;
        gauges(
            encoder,
            "bulkleave_account_booked_seconds",
            "How far ahead the account's quota slots are booked, in seconds",
            each(&|a| secs_until(a.booked_until_ms, a.now_ms)),
        )?;
        gauges(
            encoder,
            "bulkleave_account_paused",
            "1 while the account is paused after an account error",
            each(&|a| if a.paused.is_some() { 1.0 } else { 0.0 }),
        )?;
        gauges(
            encoder,
            "bulkleave_account_backlog_jobs",
            "The account's jobs not yet finished (queued, waiting, running, parked)",
            s.accounts.iter().map(|a| (labels(a), a.backlog)),
        )?;
        gauges(
            encoder,
            "bulkleave_account_parked_jobs",
            "The account's jobs parked while it is paused",
            s.accounts.iter().map(|a| (labels(a), a.parked)),
        )?;
        let mut throttled = encoder.encode_descriptor(
            "bulkleave_account_throttled",
            "\"Retry later\" answers (429s and outages) the account got, fleet-wide",
            None,
            MetricType::Counter,
        )?;
        for a in &s.accounts {
            let l = labels(a);
            ConstCounter::new(a.throttled).encode(throttled.encode_family(&l)?)?;
        }
        Ok(())
    }
}

fn encode_campaigns(
    encoder: &mut DescriptorEncoder,
    campaigns: &[(CampaignProgress, u64)],
) -> Result<(), std::fmt::Error> {
    let id = |p: &CampaignProgress| [("campaign", p.id.clone())];
    gauges(
        encoder,
        "bulkleave_campaign_items",
        "Items of each campaign under way (not ended; the newest, capped)",
        campaigns.iter().map(|(p, _)| (id(p), p.items)),
    )?;
    gauges(
        encoder,
        "bulkleave_campaign_pending_items",
        "Items of each campaign under way without a final outcome yet",
        campaigns.iter().map(|(p, _)| (id(p), p.pending)),
    )?;
    gauges(
        encoder,
        "bulkleave_campaign_paused",
        "1 while the campaign is paused (its jobs are held at admission)",
        campaigns
            .iter()
            .map(|(p, _)| (id(p), i64::from(p.state == CampaignState::Paused))),
    )?;
    gauges(
        encoder,
        "bulkleave_campaign_outcome_items",
        "Items of each campaign under way by final outcome",
        campaigns.iter().flat_map(|(p, _)| {
            p.by_outcome.iter().map(|(outcome, n)| {
                (
                    [("campaign", p.id.clone()), ("outcome", outcome.clone())],
                    *n,
                )
            })
        }),
    )?;
    Ok(())
}
