//! The provider simulator (`bulkleave simulate`): one HTTP server emulating the leave endpoints
//! of all four providers as their documentation describes them, with group memberships,
//! exactly enforced quotas, injected faults and a report of everything it saw.
//!
//! All four providers are served on one port: their paths do not collide, so each adapter's
//! base URL is simply [`Simulator::base_url`] (Green API's `api_url` too).
//!
//! | provider | endpoints | module |
//! |---|---|---|
//! | Green API | `POST /waInstance{id}/leaveGroup/{token}` | `green_api` |
//! | Wasend | `POST /{session}/groups/{group}/leave`, `GET /{session}/groups/{group}`, `GET /sessions/{session}` | `wasend` |
//! | RyzeAPI | `DELETE /api/group/leave/{instance}?identifier=…` | `ryzeapi` |
//! | Kirimin | `POST /x/group/leave/{group}`, `GET /x/group/{group}` | `kirimin` |
//! | the simulator | `/_sim/report`, `/_sim/arrivals/{account}`, `/_sim/faults`, `/_sim/force429`, `/_sim/reset` | `admin` |
//!
//! The rest: `config` (accounts, groups, faults; TOML), `state` (memberships), `quota`
//! (exact `N per period` enforcement, busiest window), `faults`, `report`, `shared` (the
//! state handlers share, request attribution) and `exchange` (the pipeline every request
//! goes through).
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use bulkleave::simulator::{SimAccount, Simulator, SimulatorConfig};
//!
//! let config = SimulatorConfig::default()
//!     .account("w", SimAccount::wasend("session1", "key", "10/min".parse()?));
//! let sim = Simulator::start(config).await?;
//! // point the Wasend adapter's base_url at sim.base_url(), run the fleet, then:
//! let report = sim.report();
//! assert_eq!(report.accounts["w"].excess, 0);
//! sim.shutdown().await;
//! # Ok(())
//! # }
//! ```

mod admin;
mod config;
mod exchange;
mod faults;
mod green_api;
mod kirimin;
mod quota;
mod report;
mod ryzeapi;
mod shared;
mod state;
mod wasend;

use std::net::SocketAddr;
use std::ops::Range;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::{delete, get, post};
use tokio::task::JoinHandle;

pub use self::config::{ConfigError, DEFAULT_LISTEN, SimAccount, SimulatorConfig};
pub use self::faults::{DEFAULT_SLOW_BODY, DEFAULT_TIMEOUT_HOLD, Faults, FaultsError};
pub use self::quota::busiest_window;
pub use self::report::{
    AccountReport, AnswerCounts, Arrival, ArrivalRecord, EndpointKind, FaultCounts, Report,
    RequestCounts, Verdict,
};
use self::shared::Shared;

/// How long [`Simulator::shutdown`] waits for open connections before cutting them.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Errors starting the simulator.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// A running simulator, serving in the background until [`Simulator::shutdown`] (or drop).
#[derive(Debug)]
pub struct Simulator {
    shared: Arc<Shared>,
    addr: SocketAddr,
    server: Option<JoinHandle<()>>,
}

/// Every route: the four providers' and the simulator's own.
fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/{account}/leaveGroup/{token}", post(green_api::leave))
        .route("/{account}/groups/{group}/leave", post(wasend::leave))
        .route("/{account}/groups/{group}", get(wasend::group_page))
        .route("/sessions/{account}", get(wasend::session_page))
        .route("/api/group/leave/{account}", delete(ryzeapi::leave))
        .route("/x/group/leave/{group}", post(kirimin::leave))
        .route("/x/group/{group}", get(kirimin::group_info))
        .merge(admin::routes())
        .with_state(shared)
}

impl Simulator {
    /// Validates `config`, binds its listen address (port 0: any free port) and serves in the
    /// background.
    pub async fn start(config: SimulatorConfig) -> Result<Simulator, Error> {
        config.validate()?;
        let listen = config.listen;
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|source| Error::Bind {
                addr: listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| Error::Bind {
            addr: listen,
            source,
        })?;
        let shared = Arc::new(Shared::new(config));
        let stop = shared.shutdown.clone().cancelled_owned();
        let app = router(shared.clone());
        let server = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app)
                .with_graceful_shutdown(stop)
                .await
            {
                tracing::error!(error = %e, "the simulator's server stopped");
            }
        });
        tracing::info!(%addr, "provider simulator listening");
        Ok(Simulator {
            shared,
            addr,
            server: Some(server),
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR`: the base URL of every provider's adapter.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A snapshot of the report.
    pub fn report(&self) -> Report {
        self.shared.report()
    }

    /// Every request of `account`, in arrival order (empty for an unknown account).
    pub fn arrivals(&self, account: &str) -> Vec<Arrival> {
        self.shared
            .index(account)
            .map(|idx| self.shared.arrivals(idx))
            .unwrap_or_default()
    }

    /// How many requests of `account` arrived in `range` (half-open: `start` included, `end`
    /// not), whatever their verdict.
    pub fn requests_in(&self, account: &str, range: Range<Instant>) -> usize {
        self.shared
            .index(account)
            .map_or(0, |idx| self.shared.requests_in(idx, &range))
    }

    /// Sets the faults of `account` (replacing the global ones for it), or the global faults
    /// with `None`. Rates are clamped into `0..=1` (see [`Faults::clamped`]); an unknown
    /// account name is ignored with a warning.
    pub fn set_faults(&self, account: Option<&str>, faults: Faults) {
        match account.map(|name| (name, self.shared.index(name))) {
            None => self.shared.set_faults(None, faults),
            Some((_, Some(idx))) => self.shared.set_faults(Some(idx), faults),
            Some((name, None)) => tracing::warn!(account = name, "set_faults: no such account"),
        }
    }

    /// Answers every request of `account` with its provider's 429 and `Retry-After:
    /// retry_after` (whole seconds, rounded up) for the next `for_`. An unknown account name
    /// is ignored with a warning.
    pub fn force_429(&self, account: &str, retry_after: Duration, for_: Duration) {
        match self.shared.index(account) {
            Some(idx) => self.shared.force_429(idx, retry_after, for_),
            None => tracing::warn!(account, "force_429: no such account"),
        }
    }

    /// Back to the configuration as started: memberships, quota windows, tallies, arrival
    /// logs, forced windows and faults.
    pub fn reset(&self) {
        self.shared.reset();
    }

    /// Stops serving: held requests and slow bodies end at once, open connections get
    /// [`SHUTDOWN_GRACE`] to finish.
    pub async fn shutdown(mut self) {
        self.shared.shutdown.cancel();
        if let Some(mut server) = self.server.take()
            && tokio::time::timeout(SHUTDOWN_GRACE, &mut server)
                .await
                .is_err()
        {
            server.abort();
        }
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        self.shared.shutdown.cancel();
    }
}
