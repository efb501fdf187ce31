//! RESP, the wire protocol: client requests in, replies out.
//!
//! Requests are arrays of bulk strings (what every client library sends) or inline commands
//! (a line of words, as typed into `telnet`). Replies are RESP2, the protocol a connection
//! speaks until it asks for another with `HELLO`; `HELLO 3` is refused with `NOPROTO`, which
//! clients take as "this server speaks RESP2".

/// The longest bulk string a request may carry (Redis's `proto-max-bulk-len`).
const MAX_BULK: usize = 512 * 1024 * 1024;
/// The most arguments a request may carry.
const MAX_ARGS: usize = 1024 * 1024;
/// The longest inline command.
const MAX_INLINE: usize = 64 * 1024;

/// A reply, before it is encoded.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Reply {
    /// `+text`.
    Status(String),
    /// `-CODE message` (the text holds the code, not the dash).
    Error(String),
    /// `:n`.
    Int(i64),
    /// `$len` and bytes.
    Bulk(Vec<u8>),
    /// The null bulk string.
    Nil,
    /// `*len` and elements.
    Array(Vec<Reply>),
    /// The null array.
    NilArray,
}

impl Reply {
    /// `+OK`.
    pub(super) fn ok() -> Reply {
        Reply::Status("OK".into())
    }

    /// A bulk string.
    pub(super) fn bulk(b: impl Into<Vec<u8>>) -> Reply {
        Reply::Bulk(b.into())
    }

    /// An array of bulk strings.
    pub(super) fn bulks<T: Into<Vec<u8>>>(items: impl IntoIterator<Item = T>) -> Reply {
        Reply::Array(items.into_iter().map(Reply::bulk).collect())
    }

    /// `1` or `0`.
    pub(super) fn bool(b: bool) -> Reply {
        Reply::Int(i64::from(b))
    }

    /// A count as an integer reply.
    pub(super) fn count(n: usize) -> Reply {
        Reply::Int(i64::try_from(n).unwrap_or(i64::MAX))
    }
}

/// Appends `reply`, encoded, to `out`.
pub(super) fn encode(reply: &Reply, out: &mut Vec<u8>) {
    match reply {
        Reply::Status(s) => line(out, b'+', &one_line(s)),
        Reply::Error(s) => line(out, b'-', &one_line(s)),
        Reply::Int(n) => line(out, b':', &n.to_string()),
        Reply::Bulk(b) => {
            line(out, b'$', &b.len().to_string());
            out.extend_from_slice(b);
            out.extend_from_slice(b"\r\n");
        }
        Reply::Nil => out.extend_from_slice(b"$-1\r\n"),
        Reply::Array(items) => {
            line(out, b'*', &items.len().to_string());
            for item in items {
                encode(item, out);
            }
        }
        Reply::NilArray => out.extend_from_slice(b"*-1\r\n"),
    }
}

fn line(out: &mut Vec<u8>, kind: u8, text: &str) {
    out.push(kind);
    out.extend_from_slice(text.as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// Status and error lines cannot hold line breaks: Redis turns them into spaces.
fn one_line(s: &str) -> std::borrow::Cow<'_, str> {
    if s.contains(['\r', '\n']) {
        s.replace(['\r', '\n'], " ").into()
    } else {
        s.into()
    }
}

/// A request the protocol cannot parse; the connection answers it and closes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ProtocolError(pub(super) String);

/// One request parsed from the front of `buf`: its arguments (empty for a blank line) and the
/// bytes it took, or `None` while it is incomplete.
pub(super) type Parsed = Option<(Vec<Vec<u8>>, usize)>;

/// Parses the request at the front of `buf`.
pub(super) fn parse(buf: &[u8]) -> Result<Parsed, ProtocolError> {
    match buf.first() {
        None => Ok(None),
        Some(b'*') => parse_multibulk(buf),
        Some(_) => parse_inline(buf),
    }
}

fn parse_inline(buf: &[u8]) -> Result<Parsed, ProtocolError> {
    let Some(end) = buf.iter().position(|&b| b == b'\n') else {
        if buf.len() > MAX_INLINE {
            return Err(ProtocolError(
                "Protocol error: too big inline request".into(),
            ));
        }
        return Ok(None);
    };
    let text = buf[..end].strip_suffix(b"\r").unwrap_or(&buf[..end]);
    let args = text
        .split(|b| b.is_ascii_whitespace())
        .filter(|w| !w.is_empty())
        .map(<[u8]>::to_vec)
        .collect();
    Ok(Some((args, end + 1)))
}

/// Reads a `<kind><number>\r\n` header at `at`; `None` while incomplete.
fn header(buf: &[u8], at: usize) -> Option<(&[u8], usize)> {
    let rest = buf.get(at..)?;
    let end = rest.windows(2).position(|w| w == b"\r\n")?;
    Some((&rest[1..end], at + end + 2))
}

fn parse_multibulk(buf: &[u8]) -> Result<Parsed, ProtocolError> {
    let Some((count, mut at)) = header(buf, 0) else {
        return Ok(None);
    };
    let count = std::str::from_utf8(count)
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
        .filter(|&n| n <= MAX_ARGS as i64)
        .ok_or_else(|| ProtocolError("Protocol error: invalid multibulk length".into()))?;
    let count = usize::try_from(count).unwrap_or(0);
    let mut args = Vec::with_capacity(count.min(1024));
    for _ in 0..count {
        match buf.get(at) {
            None => return Ok(None),
            Some(b'$') => {}
            Some(&other) => {
                return Err(ProtocolError(format!(
                    "Protocol error: expected '$', got '{}'",
                    char::from(other)
                )));
            }
        }
        let Some((len, start)) = header(buf, at) else {
            return Ok(None);
        };
        let len = std::str::from_utf8(len)
            .ok()
            .and_then(|s| s.parse::<usize>().ok())
            .filter(|&n| n <= MAX_BULK)
            .ok_or_else(|| ProtocolError("Protocol error: invalid bulk length".into()))?;
        let end = start + len;
        if buf.len() < end + 2 {
            return Ok(None);
        }
        args.push(buf[start..end].to_vec());
        at = end + 2;
    }
    Ok(Some((args, at)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_pipelined_and_partial_requests() {
        let two = b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*1\r\n$4\r\nPING\r\n";
        let (args, used) = parse(two).expect("valid").expect("complete");
        assert_eq!(args, vec![b"GET".to_vec(), b"k".to_vec()]);
        let (args, _) = parse(&two[used..]).expect("valid").expect("complete");
        assert_eq!(args, vec![b"PING".to_vec()]);
        for cut in 1..used {
            assert_eq!(parse(&two[..cut]), Ok(None), "cut at {cut}");
        }
        let (args, used) = parse(b"set a  b\r\nrest")
            .expect("valid")
            .expect("complete");
        assert_eq!((args.len(), used), (3, 10));
        assert!(parse(b"*2\r\n:1\r\n").is_err());
        assert!(parse(b"*x\r\n").is_err());
    }

    #[test]
    fn encodes_nested_replies() {
        let mut out = Vec::new();
        let reply = Reply::Array(vec![
            Reply::Int(1),
            Reply::Nil,
            Reply::bulk("ab"),
            Reply::Error("ERR a\nb".into()),
            Reply::NilArray,
        ]);
        encode(&reply, &mut out);
        assert_eq!(out, b"*5\r\n:1\r\n$-1\r\n$2\r\nab\r\n-ERR a b\r\n*-1\r\n");
    }
}
