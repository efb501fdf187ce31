//! NDJSON uploads: one JSON object per line, split without buffering more than the line limit.

use serde_json::Value;
use tokio::io::AsyncRead;

use super::{Column, Decoder, Item, Limits, NextItem, Result, Source, Values, rejected};
use crate::job::excerpt;

/// One physical line, or the fact that it was too long to keep.
struct Line {
    line: u64,
    bytes: Option<Vec<u8>>,
}

/// Splits the input at `\n`, keeping at most `max` bytes of a line.
struct Lines {
    line: u64,
    max: usize,
    buf: Vec<u8>,
    too_long: bool,
    started: bool,
}

impl Lines {
    fn take(&mut self) -> Line {
        let line = self.line;
        self.line += 1;
        self.started = false;
        let bytes = std::mem::take(&mut self.buf);
        let bytes = (!std::mem::take(&mut self.too_long)).then_some(bytes);
        Line { line, bytes }
    }
}

impl Decoder for Lines {
    type Out = Line;

    fn feed(&mut self, chunk: &[u8]) -> (usize, Option<Line>) {
        self.started |= !chunk.is_empty();
        let end = chunk.iter().position(|&b| b == b'\n');
        let part = &chunk[..end.unwrap_or(chunk.len())];
        if self.too_long || self.buf.len() + part.len() > self.max {
            self.too_long = true;
            self.buf = Vec::new();
        } else {
            self.buf.extend_from_slice(part);
        }
        match end {
            Some(end) => (end + 1, Some(self.take())),
            None => (chunk.len(), None),
        }
    }

    fn finish(&mut self) -> Option<Line> {
        self.started.then(|| self.take())
    }
}

/// Reads NDJSON lines into items.
pub(super) struct Reader<R> {
    source: Source<R>,
    lines: Lines,
}

impl<R: AsyncRead + Unpin + Send + 'static> Reader<R> {
    pub(super) fn new(source: Source<R>, limits: Limits) -> Self {
        let lines = Lines {
            line: 1,
            max: limits.max_line_bytes,
            buf: Vec::new(),
            too_long: false,
            started: false,
        };
        Reader { source, lines }
    }
}

impl<R: AsyncRead + Unpin + Send + 'static> NextItem for Reader<R> {
    async fn next_item(&mut self) -> Result<Option<Item>> {
        while let Some(Line { line, bytes }) = self.source.next(&mut self.lines).await? {
            let Some(bytes) = bytes else {
                let reason = format!("line longer than {} bytes", self.lines.max);
                return Ok(Some(rejected(line, reason)));
            };
            if !bytes.iter().all(u8::is_ascii_whitespace) {
                return Ok(Some(parse(line, &bytes)));
            }
        }
        Ok(None)
    }
}

/// One line as an item: an object whose known fields are all strings.
fn parse(line: u64, bytes: &[u8]) -> Item {
    let object = match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(object)) => object,
        Ok(other) => {
            let kind = kind(&other);
            return rejected(line, format!("expected a JSON object, found {kind}"));
        }
        Err(e) => return rejected(line, format!("not JSON: {}", excerpt(&e.to_string()))),
    };
    let mut values = Values::default();
    for (key, value) in object {
        let Some(column) = Column::from_name(&key) else {
            let reason = format!("unknown field `{}` ({})", excerpt(&key), Column::EXPECTED);
            return rejected(line, reason);
        };
        match value {
            Value::String(s) => values.set(column, s),
            Value::Null if column == Column::IdempotencyKey => {}
            other => {
                let (name, kind) = (column.name(), kind(&other));
                return rejected(line, format!("`{name}` must be a string, found {kind}"));
            }
        }
    }
    values.finish(line)
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(line: &str) -> String {
        match parse(7, line.as_bytes()) {
            Item::Rejected(r) => r.reason,
            Item::Row(row) => panic!("accepted {row:?}"),
        }
    }

    #[test]
    fn bad_lines_say_why() {
        assert!(reason("{").starts_with("not JSON: "));
        assert_eq!(reason("[1]"), "expected a JSON object, found an array");
        assert!(reason(r#"{"provider":"a","xx":1}"#).starts_with("unknown field `xx`"));
        assert_eq!(
            reason(r#"{"provider":5,"account":"a","group":"g"}"#),
            "`provider` must be a string, found a number"
        );
        assert_eq!(
            reason(r#"{"provider":"p","account":"a"}"#),
            "`group` is missing"
        );
    }

    #[test]
    fn a_null_key_is_no_key() {
        let line = r#"{"provider":"p","account":"a","group":"g","idempotency_key":null}"#;
        let Item::Row(row) = parse(1, line.as_bytes()) else {
            panic!("rejected")
        };
        assert_eq!((row.line, row.idempotency_key), (1, None));
    }
}
