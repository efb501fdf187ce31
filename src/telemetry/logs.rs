//! Log lines on standard error: readable text on a terminal, one flat JSON object per line
//! for log collectors, filtered by `RUST_LOG` (else the configured level, else `info`).
//!
//! A JSON line carries the fields of every span it was emitted in, flattened (the innermost
//! span wins a name clash), so a line logged while a job runs has its `job.id`, `campaign`,
//! `provider` and `account` at the top level. The fields meant for traces only (`otel.*`
//! steering the exporter, the `messaging.*` conventions) are left out.

use std::fmt;
use std::io::IsTerminal;

use clap::ValueEnum;
use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::{JsonFields, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Text when standard error is a terminal, JSON otherwise.
    #[default]
    Auto,
    /// Human-readable text.
    Text,
    /// One JSON object per line.
    Json,
}

impl LogFormat {
    /// `Text` or `Json`: `Auto` resolved against standard error.
    pub fn resolve(self) -> LogFormat {
        match self {
            LogFormat::Auto if std::io::stderr().is_terminal() => LogFormat::Text,
            LogFormat::Auto => LogFormat::Json,
            other => other,
        }
    }
}

/// The filter: `RUST_LOG` when set, else `level` (an `EnvFilter` directive such as `info` or
/// `bulkleave=debug,warn`), else `info`.
pub(super) fn filter(level: Option<&str>) -> Result<EnvFilter, super::Error> {
    if let Ok(directives) = std::env::var(EnvFilter::DEFAULT_ENV) {
        return EnvFilter::try_new(&directives).map_err(|e| super::Error::Env {
            variable: EnvFilter::DEFAULT_ENV,
            reason: e.to_string(),
        });
    }
    EnvFilter::try_new(level.unwrap_or("info")).map_err(|e| super::Error::Env {
        variable: "log.level",
        reason: e.to_string(),
    })
}

/// The JSON event format: timestamp, level, target, the span fields flattened, then the
/// event's own fields (`message` among them).
#[derive(Debug, Default, Clone, Copy)]
pub struct FlatJson;

impl<S, N> FormatEvent<S, N> for FlatJson
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> tracing_subscriber::fmt::FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        let mut line = Map::new();
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        line.insert("timestamp".into(), now.into());
        line.insert("level".into(), meta.level().as_str().into());
        line.insert("target".into(), meta.target().into());
        if let Some(scope) = ctx.event_scope() {
            let mut innermost = None;
            for span in scope.from_root() {
                innermost = Some(span.name());
                let extensions = span.extensions();
                let Some(fields) = extensions.get::<FormattedFields<JsonFields>>() else {
                    continue;
                };
                if let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(fields) {
                    line.extend(fields.into_iter().filter(|(k, _)| !traces_only(k)));
                }
            }
            if let Some(name) = innermost {
                line.insert("span".into(), name.into());
            }
        }
        event.record(&mut Fields(&mut line));
        let text = serde_json::to_string(&line).map_err(|_| fmt::Error)?;
        writeln!(writer, "{text}")
    }
}

/// Whether a span field is for traces only, not log lines.
fn traces_only(field: &str) -> bool {
    field.starts_with("otel.") || field.starts_with("messaging.")
}

/// Collects an event's fields into the line.
struct Fields<'a>(&'a mut Map<String, Value>);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.0.insert(field.name().into(), value.to_string().into());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .insert(field.name().into(), format!("{value:?}").into());
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::layer::SubscriberExt;

    use super::*;

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn json_lines_flatten_the_span_fields() {
        let buf = Buf::default();
        let writer = buf.clone();
        let layer = tracing_subscriber::fmt::layer()
            .fmt_fields(JsonFields::new())
            .event_format(FlatJson)
            .with_writer(move || writer.clone());
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, || {
            let job = tracing::info_span!(
                "job.process",
                job.id = "j1",
                account = "acme",
                otel.kind = "consumer",
                outcome = tracing::field::Empty
            );
            let _job = job.enter();
            job.record("outcome", "left");
            let inner = tracing::info_span!("provider.leave", provider = "wasend");
            let _inner = inner.enter();
            tracing::warn!(n = 3, "something \"quoted\"");
        });
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        let line: Value = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(line["job.id"], "j1", "{text}");
        assert_eq!(line["account"], "acme");
        assert_eq!(line["provider"], "wasend");
        assert_eq!(line["outcome"], "left");
        assert_eq!(line["n"], 3);
        assert_eq!(line["message"], "something \"quoted\"");
        assert_eq!(line["level"], "WARN");
        assert_eq!(line["span"], "provider.leave");
        assert!(line.get("otel.kind").is_none(), "{text}");
    }

    #[test]
    fn auto_resolves_to_a_concrete_format() {
        assert_ne!(LogFormat::Auto.resolve(), LogFormat::Auto);
        assert_eq!(LogFormat::Json.resolve(), LogFormat::Json);
    }
}
