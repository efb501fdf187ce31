//! The simulator's state shared by every request: the accounts (each behind its own lock:
//! quota window, memberships, tallies, faults), the indexes that attribute a request to an
//! account, the global faults and the fault dice.
//!
//! A request is attributed to the account its path names (instance, session) when that exists;
//! otherwise to the account whose credential it presents (the path then names something that
//! account does not have: "instance not found", "session not found"); otherwise to nobody.
//! Kirimin's path names no account: its session cookie alone decides.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use secrecy::ExposeSecret;
use tokio_util::sync::CancellationToken;

use super::config::{SimAccount, SimulatorConfig};
use super::faults::{Faults, Forced};
use super::quota::SlidingWindow;
use super::report::{Arrival, Report, Stats, offset_ms};
use super::state::Membership;
use crate::providers::Provider;

/// Locks `m`, taking over a poisoned lock (a panicking request must not stop the simulator).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// How a request's credential relates to the account it was attributed to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Auth {
    /// The path names the account and the credential is its own.
    Ok,
    /// The path names the account but the credential is wrong or missing.
    BadCredential,
    /// The credential is the account's but the path names an instance or session it does not
    /// have.
    UnknownTarget,
}

/// One account's mutable state.
#[derive(Debug)]
pub(crate) struct AccountState {
    /// The quota window.
    pub window: SlidingWindow,
    /// Group memberships.
    pub membership: Membership,
    /// Tallies and the arrival log.
    pub stats: Stats,
    /// Faults of its own, replacing the global ones.
    pub faults: Option<Faults>,
    /// A forced 429 window.
    pub forced: Option<Forced>,
}

impl AccountState {
    fn new(account: &SimAccount) -> Self {
        AccountState {
            window: SlidingWindow::new(account.quota()),
            membership: Membership::new(account),
            stats: Stats::default(),
            faults: account.faults.map(Faults::clamped),
            forced: None,
        }
    }
}

/// One configured account.
#[derive(Debug)]
pub(crate) struct Account {
    /// Its name in the configuration and the report.
    pub name: String,
    /// Its configuration.
    pub config: SimAccount,
    /// Its state.
    pub state: Mutex<AccountState>,
}

/// Everything the handlers share.
#[derive(Debug)]
pub(crate) struct Shared {
    /// When the simulator started (the origin of report times).
    pub origin: Instant,
    /// The same moment on the wall clock.
    pub origin_wall: SystemTime,
    /// The global faults as configured, restored by [`Shared::reset`].
    initial_faults: Faults,
    pub accounts: Vec<Account>,
    by_name: HashMap<String, usize>,
    by_id: HashMap<Provider, HashMap<String, usize>>,
    by_credential: HashMap<Provider, HashMap<String, usize>>,
    pub global_faults: RwLock<Faults>,
    pub unattributed: AtomicU64,
    pub rng: Mutex<fastrand::Rng>,
    /// Cancelled at shutdown: held requests and slow bodies end at once.
    pub shutdown: CancellationToken,
}

impl Shared {
    /// The state for a validated `config`.
    pub fn new(config: SimulatorConfig) -> Self {
        let accounts: Vec<Account> = config
            .accounts
            .iter()
            .map(|(name, account)| Account {
                name: name.clone(),
                config: account.clone(),
                state: Mutex::new(AccountState::new(account)),
            })
            .collect();
        let mut by_name = HashMap::new();
        let mut by_id: HashMap<Provider, HashMap<String, usize>> = HashMap::new();
        let mut by_credential: HashMap<Provider, HashMap<String, usize>> = HashMap::new();
        for (idx, account) in accounts.iter().enumerate() {
            let provider = account.config.provider;
            by_name.insert(account.name.clone(), idx);
            by_id
                .entry(provider)
                .or_default()
                .insert(account.config.id.clone(), idx);
            by_credential
                .entry(provider)
                .or_default()
                .entry(account.config.credential.expose_secret().to_owned())
                .or_insert(idx);
        }
        let rng = config
            .seed
            .map_or_else(fastrand::Rng::new, fastrand::Rng::with_seed);
        Shared {
            origin: Instant::now(),
            origin_wall: SystemTime::now(),
            global_faults: RwLock::new(config.faults.clamped()),
            initial_faults: config.faults,
            accounts,
            by_name,
            by_id,
            by_credential,
            unattributed: AtomicU64::new(0),
            rng: Mutex::new(rng),
            shutdown: CancellationToken::new(),
        }
    }

    /// The account a request is charged to, and how its credential relates to it: by the
    /// `path_id` it names, else by the credential `presented` (compared with `matches` when it
    /// is not the exact configured string, e.g. a cookie header with more cookies).
    pub fn resolve(
        &self,
        provider: Provider,
        path_id: Option<&str>,
        presented: Option<&str>,
        matches: impl Fn(&str, &str) -> bool,
    ) -> Option<(usize, Auth)> {
        let credential_of = |idx: usize| self.accounts[idx].config.credential.expose_secret();
        if let Some(id) = path_id
            && let Some(&idx) = self.by_id.get(&provider).and_then(|m| m.get(id))
        {
            let ok = presented.is_some_and(|p| matches(p, credential_of(idx)));
            return Some((idx, if ok { Auth::Ok } else { Auth::BadCredential }));
        }
        let presented = presented?;
        let idx = self
            .by_credential
            .get(&provider)
            .and_then(|m| m.get(presented).copied())
            .or_else(|| {
                (0..self.accounts.len()).find(|&idx| {
                    self.accounts[idx].config.provider == provider
                        && matches(presented, credential_of(idx))
                })
            })?;
        let auth = if path_id.is_some() {
            Auth::UnknownTarget
        } else {
            Auth::Ok
        };
        Some((idx, auth))
    }

    /// The index of the account `name`.
    pub fn index(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).copied()
    }

    /// `at` on the wall clock.
    pub fn wall(&self, at: Instant) -> SystemTime {
        match at.checked_duration_since(self.origin) {
            Some(d) => self.origin_wall + d,
            None => self.origin_wall - self.origin.duration_since(at),
        }
    }

    /// A snapshot report.
    pub fn report(&self) -> Report {
        let accounts = self
            .accounts
            .iter()
            .map(|a| {
                // Copied out: the report's scans must not hold up the account's requests.
                let stats = lock(&a.state).stats.clone();
                let report = stats.report(a.config.provider, a.config.quota(), self.origin);
                (a.name.clone(), report)
            })
            .collect();
        let started = self
            .origin_wall
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        Report {
            started_at_unix_ms: u64::try_from(started.as_millis()).unwrap_or(u64::MAX),
            elapsed_ms: offset_ms(self.origin, Instant::now()),
            accounts,
            unattributed: self.unattributed.load(Ordering::Relaxed),
        }
    }

    /// The arrivals of account `idx`, in order.
    pub fn arrivals(&self, idx: usize) -> Vec<Arrival> {
        lock(&self.accounts[idx].state).stats.arrivals().to_vec()
    }

    /// How many requests of account `idx` arrived in `range` (half-open).
    pub fn requests_in(&self, idx: usize, range: &Range<Instant>) -> usize {
        lock(&self.accounts[idx].state).stats.arrivals_in(range)
    }

    /// Sets the faults of account `idx`, or the global ones.
    pub fn set_faults(&self, idx: Option<usize>, faults: Faults) {
        let faults = faults.clamped();
        match idx {
            Some(idx) => lock(&self.accounts[idx].state).faults = Some(faults),
            None => {
                *self
                    .global_faults
                    .write()
                    .unwrap_or_else(PoisonError::into_inner) = faults
            }
        }
    }

    /// The global faults now.
    pub fn global_faults(&self) -> Faults {
        *self
            .global_faults
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Opens a forced 429 window on account `idx` from now.
    pub fn force_429(&self, idx: usize, retry_after: Duration, length: Duration) {
        let forced = Forced::new(Instant::now(), retry_after, length);
        lock(&self.accounts[idx].state).forced = Some(forced);
    }

    /// Back to the configuration as started: memberships, quota windows, tallies, arrival
    /// logs, forced windows and faults (the report's time origin stays).
    pub fn reset(&self) {
        for account in &self.accounts {
            *lock(&account.state) = AccountState::new(&account.config);
        }
        self.set_faults(None, self.initial_faults);
        self.unattributed.store(0, Ordering::Relaxed);
    }
}
