//! W3C trace context between spans and jobs: what a producer writes into a job
//! ([`TraceContext`]), what a worker continues from, and links between attempts.
//!
//! Every function is a no-op (and allocates nothing) while traces are off: a job then
//! carries only the context its submitter gave.

use std::str::FromStr;

use opentelemetry::Context;
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use tracing_opentelemetry::OpenTelemetrySpanExt;

use super::traces_on;
use crate::job::TraceContext;

/// The OpenTelemetry form of a job's context (remote: it came from another process).
pub fn span_context(trace: &TraceContext) -> Option<SpanContext> {
    let mut parts = trace.traceparent().split('-').skip(1);
    let trace_id = TraceId::from_hex(parts.next()?).ok()?;
    let span_id = SpanId::from_hex(parts.next()?).ok()?;
    let flags = u8::from_str_radix(parts.next()?, 16).ok()?;
    let state = trace
        .tracestate()
        .and_then(|s| TraceState::from_str(s).ok())
        .unwrap_or_default();
    let context = SpanContext::new(trace_id, span_id, TraceFlags::new(flags), true, state);
    context.is_valid().then_some(context)
}

/// The job form of `context`, if it is valid.
pub fn trace_context(context: &SpanContext) -> Option<TraceContext> {
    if !context.is_valid() {
        return None;
    }
    let traceparent = format!(
        "00-{}-{}-{:02x}",
        context.trace_id(),
        context.span_id(),
        context.trace_flags().to_u8()
    );
    let state = context.trace_state().header();
    TraceContext::new(&traceparent, Some(&state)).ok()
}

/// The context of `span`, for a job or a record to carry; `None` while traces are off.
pub fn of(span: &tracing::Span) -> Option<TraceContext> {
    if !traces_on() {
        return None;
    }
    trace_context(span.context().span().span_context())
}

/// The context of the current span; `None` while traces are off.
pub fn current() -> Option<TraceContext> {
    of(&tracing::Span::current())
}

/// Makes `parent` (a producer's context, from a job) the parent of `span`, which must not
/// have been entered yet.
pub fn continue_from(span: &tracing::Span, parent: &TraceContext) {
    if !traces_on() {
        return;
    }
    if let Some(context) = span_context(parent) {
        let _ = span.set_parent(Context::new().with_remote_span_context(context));
    }
}

/// Links `span` to `other` (an earlier attempt, a job written in a batch).
pub fn link(span: &tracing::Span, other: &TraceContext) {
    if !traces_on() {
        return;
    }
    if let Some(context) = span_context(other) {
        span.add_link(context);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_a_traceparent_and_state() {
        let tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let job = TraceContext::new(tp, Some("congo=t61rcWkgMzE")).unwrap();
        let context = span_context(&job).unwrap();
        assert!(context.is_remote() && context.is_sampled());
        assert_eq!(
            context.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_eq!(trace_context(&context).unwrap(), job);
        let unsampled = TraceContext::new(&tp.replace("-01", "-00"), None).unwrap();
        let context = span_context(&unsampled).unwrap();
        assert!(!context.is_sampled());
        assert_eq!(trace_context(&context).unwrap(), unsampled);
        assert!(trace_context(&SpanContext::empty_context()).is_none());
    }
}
