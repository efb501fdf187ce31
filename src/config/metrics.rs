//! Validation of the `[metrics]` section: whether `GET /metrics` is served, and where a
//! worker serves it (`BULKLEAVE__METRICS__LISTEN`; the API serves it on its own listener).

use super::raw::RawMetrics;
use super::validate::Problems;
use super::{DEFAULT_METRICS_LISTEN, MetricsSettings};

pub(super) fn metrics_settings(p: &mut Problems, raw: RawMetrics) -> MetricsSettings {
    let listen = super::validate::listen(p, "metrics.listen", raw.listen, DEFAULT_METRICS_LISTEN);
    MetricsSettings {
        enabled: raw.enabled.unwrap_or(true),
        listen,
    }
}
