//! CSV uploads: an RFC 4180 tokenizer that reports bad quoting, and the header → column mapping.
//!
//! The tokenizer sees one byte at a time, counts physical lines (so a record's line stays right
//! when quoted fields hold newlines) and stops storing a record once it is rejected or longer
//! than the limit, while still following its quotes to find where it ends.

use tokio::io::AsyncRead;

use super::{Column, Decoder, Error, Item, Limits, NextItem, Result, Source, Values, rejected};
use crate::job::excerpt;

/// Why a record cannot be read, found while tokenizing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Problem {
    TooLong,
    QuoteInUnquoted { field: usize },
    AfterClosingQuote { field: usize },
    Unterminated { field: usize },
}

/// One record's fields, stored back to back.
#[derive(Debug, Default)]
struct Record {
    line: u64,
    data: Vec<u8>,
    ends: Vec<usize>,
    problem: Option<Problem>,
}

impl Record {
    fn fields(&self) -> impl Iterator<Item = &[u8]> {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        starts.zip(&self.ends).map(|(s, &e)| &self.data[s..e])
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    RecordStart,
    FieldStart,
    Unquoted,
    Quoted,
    /// A quote inside a quoted field: the closing one, or the first of a doubled quote.
    QuoteInQuoted,
}

struct Tokenizer {
    state: State,
    line: u64,
    max: usize,
    raw: usize,
    field: usize,
    blank: bool,
    record: Record,
}

impl Tokenizer {
    fn new(max: usize) -> Self {
        Tokenizer {
            state: State::RecordStart,
            line: 1,
            max,
            raw: 0,
            field: 0,
            blank: true,
            record: Record::default(),
        }
    }

    fn push(&mut self, b: u8) {
        if self.record.problem.is_none() {
            self.record.data.push(b);
        }
    }

    fn problem(&mut self, problem: Problem) {
        if self.record.problem.is_none() {
            self.record.problem = Some(problem);
            self.record.data = Vec::new();
            self.record.ends = Vec::new();
        }
    }

    fn end_field(&mut self) {
        if self.record.problem.is_none() {
            self.record.ends.push(self.record.data.len());
        }
        self.field += 1;
    }

    /// Drops the `\r` of a `\r\n` line end from the unquoted field it ends.
    fn strip_cr(&mut self) {
        let start = self.record.ends.last().copied().unwrap_or(0);
        if self.record.data.len() > start && self.record.data.last() == Some(&b'\r') {
            self.record.data.pop();
        }
    }

    /// The finished record, or `None` for a blank line.
    fn end_record(&mut self) -> Option<Record> {
        self.end_field();
        let blank = self.blank;
        let record = std::mem::take(&mut self.record);
        self.state = State::RecordStart;
        (!blank).then_some(record)
    }

    /// Takes one byte; returns the record it completes, if any.
    fn step(&mut self, b: u8) -> Option<Record> {
        if self.state == State::RecordStart {
            self.state = State::FieldStart;
            self.record.line = self.line;
            (self.raw, self.field, self.blank) = (0, 0, true);
        }
        self.raw += 1;
        if self.raw > self.max {
            self.problem(Problem::TooLong);
        }
        if b == b'\n' {
            self.line += 1;
        }
        if !matches!(b, b' ' | b'\t' | b'\r' | b'\n') {
            self.blank = false;
        }
        let field = self.field;
        match (self.state, b) {
            (State::FieldStart, b'"') => self.state = State::Quoted,
            (State::FieldStart | State::Unquoted | State::QuoteInQuoted, b',') => {
                self.end_field();
                self.state = State::FieldStart;
            }
            (State::FieldStart | State::Unquoted, b'\n') => {
                self.strip_cr();
                return self.end_record();
            }
            (State::QuoteInQuoted, b'\n') => return self.end_record(),
            (State::QuoteInQuoted, b'\r') => {}
            (State::Unquoted, b'"') => {
                self.problem(Problem::QuoteInUnquoted { field });
                self.push(b);
            }
            (State::Quoted, b'"') => self.state = State::QuoteInQuoted,
            (State::QuoteInQuoted, b'"') => {
                self.push(b);
                self.state = State::Quoted;
            }
            (State::QuoteInQuoted, _) => {
                self.problem(Problem::AfterClosingQuote { field });
                self.state = State::Unquoted;
            }
            (State::FieldStart, _) => {
                self.push(b);
                self.state = State::Unquoted;
            }
            (State::Quoted | State::Unquoted | State::RecordStart, _) => self.push(b),
        }
        None
    }
}

impl Decoder for Tokenizer {
    type Out = Record;

    fn feed(&mut self, chunk: &[u8]) -> (usize, Option<Record>) {
        for (i, &b) in chunk.iter().enumerate() {
            if let Some(record) = self.step(b) {
                return (i + 1, Some(record));
            }
        }
        (chunk.len(), None)
    }

    fn finish(&mut self) -> Option<Record> {
        match self.state {
            State::RecordStart => None,
            State::Quoted => {
                let field = self.field;
                self.problem(Problem::Unterminated { field });
                self.blank = false;
                self.end_record()
            }
            State::QuoteInQuoted => self.end_record(),
            State::FieldStart | State::Unquoted => {
                self.strip_cr();
                self.end_record()
            }
        }
    }
}

/// Reads CSV records into items, after checking the header.
pub(super) struct Reader<R> {
    source: Source<R>,
    tokenizer: Tokenizer,
    /// The column of each field, from the header; `None` until it is read.
    columns: Option<Vec<Column>>,
}

impl<R: AsyncRead + Unpin + Send + 'static> Reader<R> {
    pub(super) fn new(source: Source<R>, limits: Limits) -> Self {
        Reader {
            source,
            tokenizer: Tokenizer::new(limits.max_line_bytes),
            columns: None,
        }
    }

    async fn header(&mut self) -> Result<Vec<Column>> {
        let Some(record) = self.source.next(&mut self.tokenizer).await? else {
            return Err(Error::Header(format!(
                "no header row ({})",
                Column::EXPECTED
            )));
        };
        if let Some(problem) = record.problem {
            return Err(Error::Header(describe(problem, &[], self.tokenizer.max)));
        }
        let (mut columns, mut unknown, mut duplicate) = (Vec::new(), Vec::new(), Vec::new());
        for field in record.fields() {
            let name = String::from_utf8_lossy(field).trim().to_ascii_lowercase();
            match Column::from_name(&name) {
                Some(c) if columns.contains(&c) => duplicate.push(c.name().to_owned()),
                Some(c) => columns.push(c),
                None => unknown.push(excerpt(&name)),
            }
        }
        let missing: Vec<String> = Column::ALL[..3]
            .iter()
            .filter(|c| !columns.contains(c))
            .map(|c| c.name().to_owned())
            .collect();
        let mut complaints = Vec::new();
        for (what, names) in [
            ("unknown", unknown),
            ("duplicate", duplicate),
            ("missing", missing),
        ] {
            if !names.is_empty() {
                complaints.push(format!("{what} column(s) `{}`", names.join("`, `")));
            }
        }
        if complaints.is_empty() {
            Ok(columns)
        } else {
            let complaints = complaints.join("; ");
            Err(Error::Header(format!(
                "{complaints} ({})",
                Column::EXPECTED
            )))
        }
    }

    fn item(&self, record: &Record, columns: &[Column]) -> Item {
        if let Some(problem) = record.problem {
            return rejected(record.line, describe(problem, columns, self.tokenizer.max));
        }
        if record.ends.len() != columns.len() {
            let (want, got) = (columns.len(), record.ends.len());
            return rejected(record.line, format!("expected {want} fields, found {got}"));
        }
        let mut values = Values::default();
        for (field, &column) in record.fields().zip(columns) {
            match std::str::from_utf8(field) {
                Ok(value) => values.set(column, value.to_owned()),
                Err(_) => {
                    let reason = format!("`{}` is not valid UTF-8", column.name());
                    return rejected(record.line, reason);
                }
            }
        }
        values.finish(record.line)
    }
}

impl<R: AsyncRead + Unpin + Send + 'static> NextItem for Reader<R> {
    async fn next_item(&mut self) -> Result<Option<Item>> {
        let columns = match self.columns.take() {
            Some(columns) => columns,
            None => self.header().await?,
        };
        let next = self.source.next(&mut self.tokenizer).await;
        let item = next.map(|r| r.map(|record| self.item(&record, &columns)));
        self.columns = Some(columns);
        item
    }
}

/// A problem in words, naming the column (or the field's position past the known columns).
fn describe(problem: Problem, columns: &[Column], max: usize) -> String {
    let name = |field: usize| match columns.get(field) {
        Some(c) => format!("`{}`", c.name()),
        None => format!("field {}", field + 1),
    };
    match problem {
        Problem::TooLong => format!("record longer than {max} bytes"),
        Problem::QuoteInUnquoted { field } => format!(
            "{}: quote inside an unquoted field (quote the whole field and double inner quotes)",
            name(field)
        ),
        Problem::AfterClosingQuote { field } => {
            format!("{}: characters after the closing quote", name(field))
        }
        Problem::Unterminated { field } => {
            format!(
                "{}: quoted field never closed before the end of the input",
                name(field)
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(input: &[u8], max: usize) -> Vec<(u64, Vec<String>, Option<Problem>)> {
        let mut t = Tokenizer::new(max);
        let mut out = Vec::new();
        // One byte at a time: records must not depend on chunk boundaries.
        for b in input {
            let (used, record) = t.feed(std::slice::from_ref(b));
            assert_eq!(used, 1);
            out.extend(record);
        }
        out.extend(t.finish());
        assert!(t.finish().is_none());
        out.into_iter()
            .map(|r| {
                let fields = r
                    .fields()
                    .map(|f| String::from_utf8_lossy(f).into())
                    .collect();
                (r.line, fields, r.problem)
            })
            .collect()
    }

    #[test]
    fn quoted_fields_keep_commas_newlines_and_quotes() {
        let got = records(b"a,\"b,\"\"c\"\"\nd\"\r\n\n  \ne,f", 100);
        assert_eq!(got[0], (1, vec!["a".into(), "b,\"c\"\nd".into()], None));
        assert_eq!(got[1], (5, vec!["e".into(), "f".into()], None));
        assert_eq!(got.len(), 2);
    }

    #[test]
    fn bad_quoting_is_a_problem_of_its_field() {
        let got = records(b"a,b\"c\n\"x\"y,z\n\"open,\n", 100);
        assert_eq!(got[0].2, Some(Problem::QuoteInUnquoted { field: 1 }));
        assert_eq!(got[1].2, Some(Problem::AfterClosingQuote { field: 0 }));
        assert_eq!(got[2].2, Some(Problem::Unterminated { field: 0 }));
        assert_eq!((got[2].0, got.len()), (3, 3));
    }

    #[test]
    fn long_records_are_flagged_and_skipped() {
        let got = records(b"short\n\"a very\nlong one\"\nok\n", 10);
        assert_eq!(got[1].0, 2);
        assert_eq!(got[1].2, Some(Problem::TooLong));
        assert_eq!(got[2], (4, vec!["ok".into()], None));
    }

    #[test]
    fn trailing_empty_fields_and_lone_carriage_returns_are_data() {
        let got = records(b"a,\r\nb\rc,", 100);
        assert_eq!(got[0].1, vec!["a", ""]);
        assert_eq!(got[1].1, vec!["b\rc", ""]);
    }
}
