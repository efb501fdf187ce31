//! The OpenTelemetry trace pipeline, configured by the standard `OTEL_*` environment variables
//! and exported over OTLP (HTTP/protobuf or gRPC) by a batch processor.
//!
//! Traces are off unless `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or `OTEL_EXPORTER_OTLP_ENDPOINT`
//! is set (and `OTEL_SDK_DISABLED` is not `true`, `OTEL_TRACES_EXPORTER` not `none`). Every
//! variable is checked here first: a bad value refuses to start with an error naming it,
//! where the SDK would quietly fall back to a default.
//!
//! | variable | values |
//! |---|---|
//! | `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` | full URL of the traces endpoint (used as is) |
//! | `OTEL_EXPORTER_OTLP_ENDPOINT` | base URL (`/v1/traces` appended for HTTP) |
//! | `OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL` | `http/protobuf` (default) or `grpc` (plain text: `https` needs HTTP) |
//! | `OTEL_SERVICE_NAME` | default `bulkleave-<command>` |
//! | `OTEL_RESOURCE_ATTRIBUTES` | `key=value,…` |
//! | `OTEL_TRACES_SAMPLER`, `OTEL_TRACES_SAMPLER_ARG` | the spec's samplers; default `parentbased_always_on` |
//! | `OTEL_SDK_DISABLED` | `true` turns traces off |
//! | `OTEL_TRACES_EXPORTER` | `otlp` (default) or `none` |
//!
//! The exporter is given the endpoint checked here; headers, timeouts, compression and the
//! batch processor's `OTEL_BSP_*` are read by the exporter and the SDK themselves.

use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};

use super::Error;

/// The OTLP transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// `http/protobuf`.
    HttpProtobuf,
    /// `grpc`.
    Grpc,
}

/// What the environment asks for, checked.
#[derive(Debug, Clone)]
pub struct TraceEnv {
    /// The endpoint variable that is set (for messages).
    pub endpoint_variable: &'static str,
    /// Its value, checked: the exporter is given it (see [`TraceEnv::exporter_endpoint`]).
    pub endpoint: String,
    /// How spans travel.
    pub transport: Transport,
    /// The sampler.
    pub sampler: Sampler,
    /// `service.name`.
    pub service_name: String,
}

/// Reads the trace settings through `var` (the process environment in production);
/// `Ok(None)` when traces are off. `default_service` names the service when neither
/// `OTEL_SERVICE_NAME` nor `service.name` in `OTEL_RESOURCE_ATTRIBUTES` does.
pub fn from_env(
    var: impl Fn(&str) -> Option<String>,
    default_service: &str,
) -> Result<Option<TraceEnv>, Error> {
    let get = |name: &str| {
        var(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let bad = |variable: &'static str, reason: String| Error::Env { variable, reason };
    if let Some(v) = get("OTEL_SDK_DISABLED") {
        match v.to_ascii_lowercase().as_str() {
            "true" => return Ok(None),
            "false" => {}
            _ => {
                return Err(bad(
                    "OTEL_SDK_DISABLED",
                    format!("{v:?} is not true or false"),
                ));
            }
        }
    }
    if let Some(v) = get("OTEL_TRACES_EXPORTER") {
        match v.as_str() {
            "none" => return Ok(None),
            "otlp" => {}
            _ => {
                return Err(bad(
                    "OTEL_TRACES_EXPORTER",
                    format!("{v:?} is not supported (otlp or none)"),
                ));
            }
        }
    }
    let endpoint = [
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
    ]
    .into_iter()
    .find_map(|name| get(name).map(|v| (name, v)));
    let Some((endpoint_variable, endpoint)) = endpoint else {
        return Ok(None);
    };
    match url::Url::parse(&endpoint) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
        _ => {
            return Err(bad(
                endpoint_variable,
                format!("{endpoint:?} is not an http:// or https:// URL"),
            ));
        }
    }
    let protocol = [
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
        "OTEL_EXPORTER_OTLP_PROTOCOL",
    ]
    .into_iter()
    .find_map(|name| get(name).map(|v| (name, v)));
    let transport = match protocol {
        None => Transport::HttpProtobuf,
        Some((_, v)) if v == "http/protobuf" => Transport::HttpProtobuf,
        Some((_, v)) if v == "grpc" => Transport::Grpc,
        Some((name, v)) => {
            return Err(bad(
                name,
                format!("{v:?} is not supported (http/protobuf or grpc)"),
            ));
        }
    };
    if transport == Transport::Grpc && endpoint.starts_with("https") {
        return Err(bad(
            endpoint_variable,
            "gRPC is supported in plain text only; use http/protobuf for an https endpoint".into(),
        ));
    }
    let sampler = sampler(get("OTEL_TRACES_SAMPLER"), get("OTEL_TRACES_SAMPLER_ARG"))?;
    let attributes = get("OTEL_RESOURCE_ATTRIBUTES").unwrap_or_default();
    let mut named = None;
    for pair in attributes.split(',').filter(|p| !p.trim().is_empty()) {
        match pair.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => {
                if k.trim() == "service.name" {
                    named = Some(v.trim().to_owned());
                }
            }
            _ => {
                return Err(bad(
                    "OTEL_RESOURCE_ATTRIBUTES",
                    format!("{pair:?} is not key=value"),
                ));
            }
        }
    }
    let service_name = get("OTEL_SERVICE_NAME")
        .or(named)
        .unwrap_or_else(|| default_service.to_owned());
    Ok(Some(TraceEnv {
        endpoint_variable,
        endpoint,
        transport,
        sampler,
        service_name,
    }))
}

impl TraceEnv {
    /// The URL the exporter sends to: the traces endpoint as is, or for HTTP the base
    /// endpoint with `/v1/traces` appended (as the OTLP specification and the SDK do).
    pub fn exporter_endpoint(&self) -> String {
        let base = self.endpoint_variable == "OTEL_EXPORTER_OTLP_ENDPOINT";
        match self.transport {
            Transport::HttpProtobuf if base && self.endpoint.ends_with('/') => {
                format!("{}v1/traces", self.endpoint)
            }
            Transport::HttpProtobuf if base => format!("{}/v1/traces", self.endpoint),
            _ => self.endpoint.clone(),
        }
    }
}

/// The sampler `OTEL_TRACES_SAMPLER` names, with its ratio from `OTEL_TRACES_SAMPLER_ARG`.
fn sampler(name: Option<String>, arg: Option<String>) -> Result<Sampler, Error> {
    let ratio = || -> Result<f64, Error> {
        let Some(arg) = &arg else {
            return Ok(1.0);
        };
        match arg.parse::<f64>() {
            Ok(r) if (0.0..=1.0).contains(&r) => Ok(r),
            _ => Err(Error::Env {
                variable: "OTEL_TRACES_SAMPLER_ARG",
                reason: format!("{arg:?} is not a ratio between 0 and 1"),
            }),
        }
    };
    let parent_based = |root: Sampler| Sampler::ParentBased(Box::new(root));
    Ok(match name.as_deref() {
        None | Some("parentbased_always_on") => parent_based(Sampler::AlwaysOn),
        Some("always_on") => Sampler::AlwaysOn,
        Some("always_off") => Sampler::AlwaysOff,
        Some("traceidratio") => Sampler::TraceIdRatioBased(ratio()?),
        Some("parentbased_always_off") => parent_based(Sampler::AlwaysOff),
        Some("parentbased_traceidratio") => parent_based(Sampler::TraceIdRatioBased(ratio()?)),
        Some(other) => {
            return Err(Error::Env {
                variable: "OTEL_TRACES_SAMPLER",
                reason: format!(
                    "{other:?} is not supported (always_on, always_off, traceidratio, \
                     parentbased_always_on, parentbased_always_off, parentbased_traceidratio)"
                ),
            });
        }
    })
}

/// Builds the tracer provider: the OTLP exporter behind a batch processor, the sampler and
/// the resource (`service.name`, `service.version`, `OTEL_RESOURCE_ATTRIBUTES`).
pub fn provider(env: &TraceEnv) -> Result<SdkTracerProvider, Error> {
    let endpoint = env.exporter_endpoint();
    let exporter = match env.transport {
        Transport::HttpProtobuf => opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(endpoint)
            .build(),
        Transport::Grpc => opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(endpoint)
            .build(),
    }
    .map_err(|e| Error::Exporter {
        variable: env.endpoint_variable,
        reason: e.to_string(),
    })?;
    let resource = Resource::builder()
        .with_attribute(opentelemetry::KeyValue::new(
            "service.version",
            env!("CARGO_PKG_VERSION"),
        ))
        .with_service_name(env.service_name.clone())
        .build();
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_sampler(env.sampler.clone())
        .with_resource(resource)
        .build())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn read(vars: &[(&str, &str)]) -> Result<Option<TraceEnv>, Error> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        from_env(|k| vars.get(k).cloned(), "bulkleave-worker")
    }

    fn message(vars: &[(&str, &str)]) -> String {
        read(vars).unwrap_err().to_string()
    }

    const EP: (&str, &str) = ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318");

    #[test]
    fn off_without_an_endpoint_or_when_disabled() {
        assert!(read(&[]).unwrap().is_none());
        assert!(read(&[("OTEL_SERVICE_NAME", "x")]).unwrap().is_none());
        assert!(
            read(&[EP, ("OTEL_SDK_DISABLED", "TRUE")])
                .unwrap()
                .is_none()
        );
        assert!(
            read(&[EP, ("OTEL_TRACES_EXPORTER", "none")])
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn defaults_and_precedence() {
        let env = read(&[EP]).unwrap().unwrap();
        assert_eq!(env.transport, Transport::HttpProtobuf);
        assert_eq!(env.exporter_endpoint(), format!("{}/v1/traces", EP.1));
        for (variable, value, sent) in [
            (EP.0, "http://c:4318/base/", "http://c:4318/base/v1/traces"),
            (
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "http://c:4318/custom",
                "http://c:4318/custom",
            ),
        ] {
            let env = read(&[(variable, value)]).unwrap().unwrap();
            assert_eq!(env.exporter_endpoint(), sent, "{variable}={value}");
        }
        assert_eq!(env.service_name, "bulkleave-worker");
        assert_eq!(env.endpoint_variable, "OTEL_EXPORTER_OTLP_ENDPOINT");
        let env = read(&[
            EP,
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://h:4317"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
            ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc"),
            (
                "OTEL_RESOURCE_ATTRIBUTES",
                "service.name=from-attrs,env=prod",
            ),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(env.transport, Transport::Grpc);
        assert_eq!(env.endpoint, "http://h:4317");
        assert_eq!(env.exporter_endpoint(), "http://h:4317");
        assert_eq!(env.service_name, "from-attrs");
        let env = read(&[
            EP,
            ("OTEL_SERVICE_NAME", "svc"),
            ("OTEL_RESOURCE_ATTRIBUTES", "service.name=from-attrs"),
            ("OTEL_TRACES_SAMPLER", "traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "0.25"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(env.service_name, "svc");
        assert!(matches!(env.sampler, Sampler::TraceIdRatioBased(r) if r == 0.25));
    }

    #[test]
    fn bad_values_name_their_variable() {
        for (vars, variable) in [
            (vec![EP, ("OTEL_SDK_DISABLED", "yes")], "OTEL_SDK_DISABLED"),
            (
                vec![("OTEL_EXPORTER_OTLP_ENDPOINT", "localhost:4318")],
                "OTEL_EXPORTER_OTLP_ENDPOINT",
            ),
            (
                vec![EP, ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")],
                "OTEL_EXPORTER_OTLP_PROTOCOL",
            ),
            (
                vec![EP, ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "udp")],
                "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
            ),
            (
                vec![EP, ("OTEL_TRACES_SAMPLER", "xray")],
                "OTEL_TRACES_SAMPLER",
            ),
            (
                vec![
                    EP,
                    ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
                    ("OTEL_TRACES_SAMPLER_ARG", "1.5"),
                ],
                "OTEL_TRACES_SAMPLER_ARG",
            ),
            (
                vec![EP, ("OTEL_RESOURCE_ATTRIBUTES", "a=b,novalue")],
                "OTEL_RESOURCE_ATTRIBUTES",
            ),
            (
                vec![
                    ("OTEL_EXPORTER_OTLP_ENDPOINT", "https://collector:4317"),
                    ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
                ],
                "OTEL_EXPORTER_OTLP_ENDPOINT",
            ),
            (
                vec![EP, ("OTEL_TRACES_EXPORTER", "zipkin")],
                "OTEL_TRACES_EXPORTER",
            ),
        ] {
            let text = message(&vars);
            assert!(text.starts_with(variable), "{variable}: {text}");
        }
    }
}
