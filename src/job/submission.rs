//! The submission contract, version 1: the fields another service puts on the submission
//! stream, and their validation into a [`LeaveJob`].
//!
//! | field | required | rule |
//! |---|---|---|
//! | `provider` | yes | `green_api`, `wasend`, `ryzeapi` or `kirimin` |
//! | `account` | yes | a configured account of that provider |
//! | `group` | yes | a group reference valid for the provider |
//! | `campaign` | no | 1-64 letters, digits, `.`, `_`, `:`, `-` |
//! | `idempotency_key` | no | 1-128 printable ASCII, no white space (default: derived) |
//! | `requested_by` | no | 1-128 printable characters: who asked, for the audit trail |
//! | `traceparent`, `tracestate` | no | W3C Trace Context |
//! | `v` | no | contract version: `1` |
//!
//! Any other field is refused (a typo must not pass silently). Published as
//! `docs/submission-v1.schema.json`.

use std::collections::BTreeMap;

use super::{JobError, LeaveJob, LeaveRequest, TraceContext};

/// The contract version this build accepts.
pub const CONTRACT_VERSION: &str = "1";

/// Every field the contract knows.
pub const FIELDS: [&str; 9] = [
    "v",
    "provider",
    "account",
    "group",
    "campaign",
    "idempotency_key",
    "requested_by",
    "traceparent",
    "tracestate",
];

/// Validates one submission (field name → value) into a job.
pub fn parse(fields: &BTreeMap<String, String>) -> Result<LeaveJob, JobError> {
    if let Some(unknown) = fields.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(JobError::new(
            "fields",
            format!(
                "{:?} is not a field of the submission contract v{CONTRACT_VERSION} (known: {})",
                super::excerpt(unknown),
                FIELDS.join(", ")
            ),
        ));
    }
    if let Some(v) = fields.get("v").filter(|v| v.as_str() != CONTRACT_VERSION) {
        return Err(JobError::new(
            "v",
            format!(
                "version {:?} is not supported (this service speaks v{CONTRACT_VERSION})",
                super::excerpt(v)
            ),
        ));
    }
    let required = |name: &'static str| {
        fields
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.trim().is_empty())
            .ok_or_else(|| JobError::new(name, "missing: this field is required"))
    };
    let request = LeaveRequest::parse(
        required("provider")?,
        required("account")?,
        required("group")?,
    )?;
    let mut job = LeaveJob::new(request);
    if let Some(c) = fields.get("campaign") {
        job = job.with_campaign(c.parse().map_err(|e| JobError::new("campaign", e))?);
    }
    if let Some(k) = fields.get("idempotency_key") {
        job = job.with_idempotency_key(k.parse().map_err(|e| JobError::new("idempotency_key", e))?);
    }
    if let Some(r) = fields.get("requested_by") {
        let ok = (1..=128).contains(&r.chars().count()) && !r.chars().any(char::is_control);
        if !ok {
            return Err(JobError::new(
                "requested_by",
                "use 1-128 printable characters",
            ));
        }
        job.requested_by = Some(r.clone());
    }
    if let Some(tp) = fields.get("traceparent") {
        let trace = TraceContext::new(tp, fields.get("tracestate").map(String::as_str))
            .map_err(|e| JobError::new("traceparent", e))?;
        job = job.with_trace(trace);
    } else if fields.contains_key("tracestate") {
        return Err(JobError::new("tracestate", "given without traceparent"));
    }
    Ok(job)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    const OK: [(&str, &str); 3] = [
        ("provider", "wasend"),
        ("account", "acme"),
        ("group", "120363406289005073@g.us"),
    ];

    #[test]
    fn minimal_and_full_submissions() {
        let job = parse(&fields(&OK)).unwrap();
        assert_eq!(job.request.account.as_str(), "acme");
        let mut full = OK.to_vec();
        full.extend([
            ("v", "1"),
            ("campaign", "offboard-7"),
            ("idempotency_key", "hr-4711"),
            ("requested_by", "hr-system"),
            (
                "traceparent",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            ),
        ]);
        let job = parse(&fields(&full)).unwrap();
        assert_eq!(job.idempotency_key.as_str(), "hr-4711");
        assert_eq!(job.requested_by.as_deref(), Some("hr-system"));
        assert!(job.trace.is_some());
    }

    #[test]
    fn every_rejection_names_the_field() {
        type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);
        let cases: [Case; 7] = [
            (&[("account", "a"), ("group", "1")], "provider", "missing"),
            (
                &[("provider", "wasend"), ("group", "1")],
                "account",
                "missing",
            ),
            (
                &[
                    ("provider", "wasend"),
                    ("account", "a"),
                    ("group", "79001234567@c.us"),
                ],
                "group",
                "a contact",
            ),
            (
                &[("provider", "telegram"), ("account", "a"), ("group", "1")],
                "provider",
                "unknown provider",
            ),
            (
                &[("provider", "wasend"), ("account", "a"), ("grup", "1")],
                "fields",
                "\"grup\" is not a field",
            ),
            (
                &[
                    ("v", "2"),
                    ("provider", "wasend"),
                    ("account", "a"),
                    ("group", "1"),
                ],
                "v",
                "not supported",
            ),
            (
                &[
                    ("provider", "wasend"),
                    ("account", "a"),
                    ("group", "120363406289005073@g.us"),
                    ("traceparent", "x"),
                ],
                "traceparent",
                "not a W3C traceparent",
            ),
        ];
        for (input, field, rule) in cases {
            let err = parse(&fields(input)).unwrap_err();
            assert_eq!(err.field, field, "{input:?}: {err}");
            assert!(err.rule.contains(rule), "{input:?}: {err}");
        }
    }
}
