//! Validation of the `[metrics]` section: whether `GET /metrics` is served, and where a
//! worker serves it (`BULKLEAVE__METRICS__LISTEN`; the API serves it on its own listener).

use std::net::SocketAddr;

use super::raw::RawMetrics;
use super::validate::Problems;
use super::{DEFAULT_METRICS_LISTEN, MetricsSettings};

pub(super) fn metrics_settings(p: &mut Problems, raw: RawMetrics) -> MetricsSettings {
    let default_listen: SocketAddr = DEFAULT_METRICS_LISTEN
        .parse()
        .unwrap_or(SocketAddr::from(([0, 0, 0, 0], 9091)));
    let listen = match raw.listen {
        None => default_listen,
        Some(s) => p
            .check(
                "metrics.listen",
                s.trim().parse::<SocketAddr>().map_err(|_| {
                    format!("{s:?} is not an address: use IP:PORT, e.g. 0.0.0.0:9091")
                }),
            )
            .unwrap_or(default_listen),
    };
    MetricsSettings {
        enabled: raw.enabled.unwrap_or(true),
        listen,
    }
}
