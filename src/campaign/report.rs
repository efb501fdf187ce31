//! A campaign's report: every item with its outcome, as CSV or JSON lines, read from the
//! ledger page by page so a campaign of millions is never held in memory.

use futures_util::Stream;

use super::Campaigns;
use crate::ledger::{Item, ItemFilter};

/// Items read per ledger query.
pub const PAGE: i64 = 2_000;

/// The CSV header of a report.
pub const CSV_HEADER: &str = "job_id,line,provider,account,group,outcome,success,dead_letter,\
attempts,throttled,first_attempt_at,last_attempt_at,http_status,detail,last_error,answer\n";

/// Report formats: the upload formats, CSV with a header row ([`CSV_HEADER`]) or one JSON
/// object per line.
pub use crate::upload::Format;

impl Campaigns {
    /// The items of campaign `id` matching `filter`, page by page, in job-id order.
    pub fn item_pages(
        &self,
        id: &str,
        filter: ItemFilter,
    ) -> impl Stream<Item = crate::ledger::Result<Vec<Item>>> + Send + 'static {
        let ledger = self.ledger.clone();
        let id = id.to_owned();
        futures_util::stream::unfold(Some(None::<String>), move |after| {
            let ledger = ledger.clone();
            let id = id.clone();
            let filter = filter.clone();
            async move {
                let after = after?;
                match ledger.items(&id, &filter, after.as_deref(), PAGE).await {
                    Ok(page) if page.is_empty() => None,
                    Ok(page) => {
                        let next = (page.len() as i64 == PAGE)
                            .then(|| page.last().map(|i| i.job_id.clone()))
                            .flatten();
                        Some((Ok(page), next.map(Some)))
                    }
                    Err(e) => Some((Err(e), None)),
                }
            }
        })
    }
}

/// One item as a report line in `format` (with its newline).
pub fn line(item: &Item, format: Format) -> String {
    match format {
        Format::Ndjson => {
            let mut s = serde_json::to_string(item).unwrap_or_else(|_| "{}".into());
            s.push('\n');
            s
        }
        Format::Csv => {
            let time = |t: &Option<chrono::DateTime<chrono::Utc>>| {
                t.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
                    .unwrap_or_default()
            };
            let fields = [
                item.job_id.clone(),
                item.line.map(|l| l.to_string()).unwrap_or_default(),
                item.provider.clone(),
                item.account.clone(),
                item.group_ref.clone(),
                item.outcome.clone().unwrap_or_else(|| "pending".into()),
                item.success.map(|s| s.to_string()).unwrap_or_default(),
                item.dead_letter.to_string(),
                item.attempts.to_string(),
                item.throttled.to_string(),
                time(&item.first_attempt_at),
                time(&item.last_attempt_at),
                item.http_status.map(|s| s.to_string()).unwrap_or_default(),
                item.detail.clone().unwrap_or_default(),
                item.last_error.clone().unwrap_or_default(),
                item.answer.clone().unwrap_or_default(),
            ];
            let mut out = fields
                .iter()
                .map(|f| csv_field(f))
                .collect::<Vec<_>>()
                .join(",");
            out.push('\n');
            out
        }
    }
}

/// A CSV field, quoted when it holds a comma, quote or line break; a leading `=`, `+`, `-` or
/// `@` is prefixed with `'` so spreadsheets do not run it as a formula.
fn csv_field(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@']) {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

#[cfg(test)]
mod tests {
    use super::csv_field;

    #[test]
    fn csv_fields_are_quoted_and_defused() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=cmd()"), "'=cmd()");
        assert_eq!(csv_field("line\nbreak"), "\"line\nbreak\"");
    }
}
