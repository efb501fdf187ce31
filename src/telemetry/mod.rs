//! Logs and traces: one `tracing` subscriber that writes log lines ([`logs`]) and, when an
//! OTLP endpoint is configured, exports spans to OpenTelemetry ([`traces`]); W3C context
//! travels inside jobs ([`propagation`]).
//!
//! [`init`] installs it and returns a [`Telemetry`] guard: [`Telemetry::shutdown`] (or its
//! drop) flushes the spans still buffered, so every command calls it before exiting.
//!
//! # Span tree
//!
//! ```text
//! POST /v1/jobs (server)                     | receive {p}:submit (consumer, the stream)
//! └─ send {p}:jobs (producer) ── job ──► Redis ──► process {p}:jobs (consumer; parent: the job's context,
//!                                                  │                  link: the previous attempt)
//!                                                  ├─ quota wait
//!                                                  └─ provider.leave ─ POST (client; url.full without secret)
//! ledger write (links to the process spans of the outcomes it writes)
//! ```
//!
//! Messaging spans carry `messaging.system` = `redis`, `messaging.operation.type`,
//! `messaging.destination.name` (the Redis stream) and `messaging.message.id` (the job id);
//! job spans `job.id`, `job.attempt`, `campaign`, `provider`, `account`, `outcome`.

pub mod logs;
pub mod propagation;
pub mod traces;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Level;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

pub use self::logs::LogFormat;

/// Whether spans are exported (set once by [`init`]).
static TRACES_ON: AtomicBool = AtomicBool::new(false);

/// How long [`Telemetry::shutdown`] waits for the last spans to be exported.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

/// Whether spans are exported: when not, nothing trace-related is computed.
pub fn traces_on() -> bool {
    TRACES_ON.load(Ordering::Relaxed)
}

/// Errors setting telemetry up. Each names the variable or setting at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An environment variable or setting has a value that cannot be used.
    #[error("{variable}: {reason}")]
    Env {
        /// The variable (`OTEL_…`, `RUST_LOG`) or setting (`log.level`).
        variable: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The OTLP exporter could not be built.
    #[error("{variable}: the OTLP exporter cannot be built: {reason}")]
    Exporter {
        /// The endpoint variable in use.
        variable: &'static str,
        /// Why.
        reason: String,
    },
}

/// What to set up.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Log format (`auto`: text on a terminal, JSON otherwise).
    pub format: LogFormat,
    /// Log filter when `RUST_LOG` is unset (`EnvFilter` syntax); default `info`.
    pub level: Option<String>,
    /// `service.name` when `OTEL_SERVICE_NAME` does not give one (`bulkleave-worker`, …).
    pub service: String,
}

/// The installed telemetry. Flushes the spans on [`Telemetry::shutdown`] or on drop.
#[derive(Debug)]
#[must_use = "dropping the guard shuts the trace exporter down"]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Exports the spans still buffered and stops the exporter (waits up to 5 s). Runs the
    /// blocking flush off the async runtime, which the gRPC exporter still needs.
    pub async fn shutdown(mut self) {
        if let Some(provider) = self.provider.take() {
            let done = tokio::task::spawn_blocking(move || flush(&provider)).await;
            if done.is_err() {
                eprintln!("bulkleave: flushing traces failed");
            }
        }
    }
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take() {
            flush(&provider);
        }
    }
}

fn flush(provider: &SdkTracerProvider) {
    TRACES_ON.store(false, Ordering::Relaxed);
    if let Err(e) = provider.shutdown_with_timeout(FLUSH_TIMEOUT) {
        eprintln!("bulkleave: exporting the last spans failed: {e}");
    }
}

/// Installs the global subscriber: log lines to standard error, and spans to the OTLP
/// endpoint when `OTEL_*` configures one. Call it once, inside the Tokio runtime (the gRPC
/// exporter starts there). A second call installs nothing and exports nothing.
pub fn init(options: &Options) -> Result<Telemetry, Error> {
    let filter = logs::filter(options.level.as_deref())?;
    let trace_env = traces::from_env(|k| std::env::var(k).ok(), &options.service)?;
    let provider = trace_env.as_ref().map(traces::provider).transpose()?;
    let otel = provider.as_ref().map(|p| {
        tracing_opentelemetry::layer()
            .with_tracer(p.tracer("bulkleave"))
            .with_location(false)
            .with_threads(false)
            .with_tracked_inactivity(false)
    });
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let fmt = match options.format.resolve() {
        LogFormat::Json => fmt
            .fmt_fields(tracing_subscriber::fmt::format::JsonFields::new())
            .event_format(logs::FlatJson)
            .boxed(),
        _ => fmt.boxed(),
    };
    // The log filter applies to log lines only. The trace exporter takes `info` spans and
    // above whatever the log level, and of the events only warnings and errors (as span
    // events): the rest are logs.
    let otel_filter = filter_fn(|meta| {
        if meta.is_span() {
            *meta.level() <= Level::INFO
        } else {
            *meta.level() <= Level::WARN
        }
    });
    let installed = tracing_subscriber::registry()
        .with(fmt.with_filter(filter))
        .with(otel.map(|l| l.with_filter(otel_filter)))
        .try_init()
        .is_ok();
    if !installed {
        return Ok(Telemetry { provider: None });
    }
    if let Some(env) = &trace_env {
        TRACES_ON.store(true, Ordering::Relaxed);
        tracing::info!(
            endpoint = %env.endpoint_variable,
            transport = ?env.transport,
            service = %env.service_name,
            "exporting traces over OTLP"
        );
    }
    Ok(Telemetry { provider })
}
