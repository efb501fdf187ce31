//! Campaign uploads: a streaming reader of CSV and NDJSON leave items.
//!
//! [`read`] turns any [`AsyncRead`] (an HTTP body, a file) into a stream of [`Item`]s without
//! holding the whole input in memory: memory stays bounded by [`Limits::max_line_bytes`],
//! whatever the input size. A record that cannot be read becomes an [`Item::Rejected`] with its
//! 1-based line and the reason, and reading goes on with the next one. Only what makes the rest
//! unreadable ends the stream with an [`Error`]: an I/O failure, a CSV header that is not the
//! expected one, or an input larger than [`Limits::max_bytes`]. Rows are raw strings: checking
//! them against the job model ([`crate::job::LeaveRequest::parse`]) is the caller's business.
//!
//! The CSV tokenizer is our own rather than `csv-async`'s: `csv-async` accepts bad quoting
//! silently (`a"b`, `"a"b`) and buffers an unterminated quoted field to the end of the input,
//! while uploads need a readable rejection and bounded memory for both.

mod csv;
mod ndjson;

use std::future::Future;
use std::io;
use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use futures_util::future::Either;
use futures_util::{Stream, stream};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader, ReadBuf};

/// The format of an upload (and of a campaign report).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// RFC 4180 CSV with a header row naming the columns.
    Csv,
    /// Newline-delimited JSON: one object per line.
    Ndjson,
}

impl Format {
    /// The format for an HTTP `Content-Type` (`text/csv`, `application/x-ndjson`,
    /// `application/ndjson`, `application/jsonl`), ignoring parameters and case.
    pub fn from_content_type(content_type: &str) -> Option<Format> {
        let essence = content_type.split(';').next()?.trim().to_ascii_lowercase();
        match essence.as_str() {
            "text/csv" => Some(Format::Csv),
            "application/x-ndjson" | "application/ndjson" | "application/jsonl" => {
                Some(Format::Ndjson)
            }
            _ => None,
        }
    }

    /// The format for a file name ending in `.csv`, `.ndjson` or `.jsonl` (any case).
    pub fn from_path(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "csv" => Some(Format::Csv),
            "ndjson" | "jsonl" => Some(Format::Ndjson),
            _ => None,
        }
    }
}

/// One item as uploaded (raw strings; validation against the job model happens elsewhere).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// The 1-based line where the record starts.
    pub line: u64,
    /// The provider, as written.
    pub provider: String,
    /// The account, as written.
    pub account: String,
    /// The group, as written.
    pub group: String,
    /// The producer's idempotency key; `None` when absent or empty.
    pub idempotency_key: Option<String>,
}

/// A record that cannot be read, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// The 1-based physical line where the record starts.
    pub line: u64,
    /// What is wrong, in words; quotes at most 64 characters of the input.
    pub reason: String,
}

/// What the stream yields for each non-blank record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// A readable record.
    Row(Row),
    /// An unreadable record; reading went on after it.
    Rejected(Rejected),
}

/// A failure that ends the stream: the rest of the input cannot be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading the input failed.
    #[error("reading the upload failed: {0}")]
    Io(#[from] io::Error),
    /// The CSV header row is missing or names the wrong columns.
    #[error("bad CSV header: {0}")]
    Header(String),
    /// The input is larger than [`Limits::max_bytes`]; the rows before the limit were yielded.
    #[error("the upload is larger than {limit} bytes")]
    TooLarge {
        /// The limit that was exceeded, in bytes.
        limit: u64,
    },
}

/// The result type of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Size limits of an upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most bytes read in total; more is [`Error::TooLarge`].
    pub max_bytes: u64,
    /// Longest record (CSV, quoted newlines included) or line (NDJSON) in bytes; a longer one
    /// is rejected and skipped without being buffered whole.
    pub max_line_bytes: usize,
}

impl Limits {
    /// Default [`Limits::max_bytes`]: 1 GiB (several million items).
    pub const DEFAULT_MAX_BYTES: u64 = 1 << 30;
    /// Default [`Limits::max_line_bytes`]: 16 KiB (an item is a few hundred bytes).
    pub const DEFAULT_MAX_LINE_BYTES: usize = 16 * 1024;

    /// Sets [`Limits::max_bytes`].
    pub fn with_max_bytes(mut self, max_bytes: u64) -> Self {
        self.max_bytes = max_bytes;
        self
    }

    /// Sets [`Limits::max_line_bytes`].
    pub fn with_max_line_bytes(mut self, max_line_bytes: usize) -> Self {
        self.max_line_bytes = max_line_bytes;
        self
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: Self::DEFAULT_MAX_BYTES,
            max_line_bytes: Self::DEFAULT_MAX_LINE_BYTES,
        }
    }
}

/// Reads `input` as `format`, yielding one [`Item`] per non-blank record, in order.
///
/// The stream ends after the first [`Error`].
pub fn read<R>(format: Format, input: R, limits: Limits) -> impl Stream<Item = Result<Item>> + Send
where
    R: AsyncRead + Unpin + Send + 'static,
{
    let source = Source::new(input, limits);
    match format {
        Format::Csv => Either::Left(into_stream(csv::Reader::new(source, limits))),
        Format::Ndjson => Either::Right(into_stream(ndjson::Reader::new(source, limits))),
    }
}

/// A format's reader: the next item, `None` at the end.
trait NextItem: Send + 'static {
    fn next_item(&mut self) -> impl Future<Output = Result<Option<Item>>> + Send;
}

fn into_stream<N: NextItem>(reader: N) -> impl Stream<Item = Result<Item>> + Send {
    stream::unfold(Some(reader), |reader| async move {
        let mut reader = reader?;
        match reader.next_item().await {
            Ok(Some(item)) => Some((Ok(item), Some(reader))),
            Ok(None) => None,
            Err(e) => Some((Err(e), None)),
        }
    })
}

/// The columns of an upload, shared by both formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Column {
    Provider,
    Account,
    Group,
    IdempotencyKey,
}

impl Column {
    const ALL: [Column; 4] = [
        Column::Provider,
        Column::Account,
        Column::Group,
        Column::IdempotencyKey,
    ];
    const EXPECTED: &str = "expected provider, account, group and optionally idempotency_key";

    fn name(self) -> &'static str {
        match self {
            Column::Provider => "provider",
            Column::Account => "account",
            Column::Group => "group",
            Column::IdempotencyKey => "idempotency_key",
        }
    }

    fn from_name(name: &str) -> Option<Column> {
        Column::ALL.into_iter().find(|c| c.name() == name)
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// The values of one record, checked into a [`Row`] once all are in.
#[derive(Default)]
struct Values([Option<String>; 4]);

impl Values {
    fn set(&mut self, column: Column, value: String) {
        self.0[column.index()] = Some(value);
    }

    fn finish(self, line: u64) -> Item {
        let [provider, account, group, key] = self.0;
        let required = |value: Option<String>, column: Column| match value {
            Some(v) if !v.is_empty() => Ok(v),
            Some(_) => Err(format!("`{}` is empty", column.name())),
            None => Err(format!("`{}` is missing", column.name())),
        };
        let checked = (|| {
            Ok::<_, String>(Row {
                line,
                provider: required(provider, Column::Provider)?,
                account: required(account, Column::Account)?,
                group: required(group, Column::Group)?,
                idempotency_key: key.filter(|k| !k.is_empty()),
            })
        })();
        match checked {
            Ok(row) => Item::Row(row),
            Err(reason) => rejected(line, reason),
        }
    }
}

fn rejected(line: u64, reason: String) -> Item {
    Item::Rejected(Rejected { line, reason })
}

/// Splits raw bytes into records; fed chunk by chunk, so no record needs the whole input.
trait Decoder {
    type Out;
    /// Consumes bytes of `chunk` up to the end of the next record, if it is in the chunk.
    fn feed(&mut self, chunk: &[u8]) -> (usize, Option<Self::Out>);
    /// The last record at the end of the input; `None` after it.
    fn finish(&mut self) -> Option<Self::Out>;
}

const BOM: &[u8; 3] = b"\xEF\xBB\xBF";

/// The counted, buffered input; drops a byte order mark at the start.
struct Source<R> {
    inner: BufReader<Counted<R>>,
    bom_matched: usize,
    bom_done: bool,
    max_bytes: u64,
}

impl<R: AsyncRead + Unpin> Source<R> {
    fn new(input: R, limits: Limits) -> Self {
        let counted = Counted {
            inner: input,
            read: 0,
            limit: limits.max_bytes,
        };
        Source {
            inner: BufReader::new(counted),
            bom_matched: 0,
            bom_done: false,
            max_bytes: limits.max_bytes,
        }
    }

    /// The next record of `decoder`, `None` at the end of the input.
    async fn next<D: Decoder>(&mut self, decoder: &mut D) -> Result<Option<D::Out>> {
        loop {
            let chunk = match self.inner.fill_buf().await {
                Ok(chunk) => chunk,
                Err(e) if e.get_ref().is_some_and(|e| e.is::<Exceeded>()) => {
                    return Err(Error::TooLarge {
                        limit: self.max_bytes,
                    });
                }
                Err(e) => return Err(Error::Io(e)),
            };
            let mut skip = 0;
            if !self.bom_done {
                let before = self.bom_matched;
                while self.bom_matched < BOM.len()
                    && skip < chunk.len()
                    && chunk[skip] == BOM[self.bom_matched]
                {
                    self.bom_matched += 1;
                    skip += 1;
                }
                if self.bom_matched < BOM.len() && skip == chunk.len() && !chunk.is_empty() {
                    // A BOM prefix so far: wait for the next bytes to decide.
                    self.inner.consume(skip);
                    continue;
                }
                self.bom_done = true;
                if self.bom_matched < BOM.len() {
                    // No BOM after all: the bytes taken in earlier chunks are data.
                    skip = 0;
                    decoder.feed(&BOM[..before]);
                }
            }
            if chunk.is_empty() {
                return Ok(decoder.finish());
            }
            let (used, out) = decoder.feed(&chunk[skip..]);
            self.inner.consume(skip + used);
            if out.is_some() {
                return Ok(out);
            }
        }
    }
}

/// Marks the I/O error [`Counted`] returns past the limit.
#[derive(Debug, thiserror::Error)]
#[error("input limit exceeded")]
struct Exceeded;

/// Counts the bytes read and fails once more than `limit` come; never reads past `limit + 1`,
/// so every record that ends within the limit is still decoded.
struct Counted<R> {
    inner: R,
    read: u64,
    limit: u64,
}

impl<R: AsyncRead + Unpin> AsyncRead for Counted<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let remaining = self.limit.saturating_sub(self.read);
        let want = usize::try_from(remaining)
            .unwrap_or(usize::MAX)
            .clamp(1, buf.remaining().max(1));
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        let mut sub = ReadBuf::new(buf.initialize_unfilled_to(want));
        ready!(Pin::new(&mut self.inner).poll_read(cx, &mut sub))?;
        let n = sub.filled().len();
        buf.advance(n);
        self.read += n as u64;
        if self.read > self.limit {
            return Poll::Ready(Err(io::Error::other(Exceeded)));
        }
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_from_content_types_and_paths() {
        let ct = Format::from_content_type;
        assert_eq!(ct("text/csv"), Some(Format::Csv));
        assert_eq!(ct("Text/CSV; charset=utf-8"), Some(Format::Csv));
        assert_eq!(ct("application/x-ndjson"), Some(Format::Ndjson));
        assert_eq!(ct(" application/jsonl ;x=y"), Some(Format::Ndjson));
        assert_eq!(ct("application/ndjson"), Some(Format::Ndjson));
        assert_eq!(ct("application/json"), None);
        let p = |s: &str| Format::from_path(Path::new(s));
        assert_eq!(p("a/b.CSV"), Some(Format::Csv));
        assert_eq!(p("x.ndjson"), Some(Format::Ndjson));
        assert_eq!(p("x.jsonl"), Some(Format::Ndjson));
        assert_eq!(p("x.json"), None);
        assert_eq!(p("csv"), None);
    }

    #[test]
    fn missing_and_empty_values_are_named() {
        let mut v = Values::default();
        v.set(Column::Provider, "wasend".into());
        v.set(Column::Account, String::new());
        let Item::Rejected(r) = v.finish(3) else {
            panic!("accepted")
        };
        assert_eq!((r.line, r.reason.as_str()), (3, "`account` is empty"));
    }
}
