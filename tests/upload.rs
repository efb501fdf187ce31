//! Campaign uploads through `upload::read`: CSV headers, quoting and line numbers, NDJSON lines,
//! rejections that let reading go on, size limits, a large streamed input, and round trips.

#![allow(clippy::unwrap_used)]

use std::pin::Pin;
use std::task::{Context, Poll};

use bulkleave::upload::{self, Error, Format, Item, Limits, Rejected, Row};
use futures_util::StreamExt;
use proptest::prelude::*;
use tokio::io::{AsyncRead, AsyncWriteExt, ReadBuf};

/// Everything the stream yields, and the error that ended it, if any.
async fn read_all(format: Format, input: &[u8], limits: Limits) -> (Vec<Item>, Option<Error>) {
    let input = std::io::Cursor::new(input.to_vec());
    let mut stream = std::pin::pin!(upload::read(format, input, limits));
    let mut items = Vec::new();
    while let Some(next) = stream.next().await {
        match next {
            Ok(item) => items.push(item),
            Err(e) => {
                assert!(
                    stream.next().await.is_none(),
                    "the stream ends after an error"
                );
                return (items, Some(e));
            }
        }
    }
    (items, None)
}

async fn csv(input: &str) -> Vec<Item> {
    let (items, err) = read_all(Format::Csv, input.as_bytes(), Limits::default()).await;
    assert!(err.is_none(), "{err:?}");
    items
}

async fn header_error(input: &[u8]) -> String {
    match read_all(Format::Csv, input, Limits::default()).await {
        (items, Some(Error::Header(msg))) if items.is_empty() => msg,
        other => panic!("expected a header error, got {other:?}"),
    }
}

fn row(line: u64, provider: &str, account: &str, group: &str, key: Option<&str>) -> Item {
    Item::Row(Row {
        line,
        provider: provider.into(),
        account: account.into(),
        group: group.into(),
        idempotency_key: key.map(Into::into),
    })
}

fn rejected(item: &Item) -> &Rejected {
    match item {
        Item::Rejected(r) => r,
        Item::Row(r) => panic!("accepted {r:?}"),
    }
}

#[tokio::test]
async fn headers_in_any_order_and_case_with_or_without_bom() {
    let want = vec![row(2, "wasend", "acme", "1@g.us", Some("k1"))];
    let body = "wasend,acme,1@g.us,k1\n";
    let header = " Provider ,ACCOUNT,group,Idempotency_Key\n";
    assert_eq!(csv(&format!("{header}{body}")).await, want);
    assert_eq!(csv(&format!("\u{feff}{header}{body}")).await, want);
    let reordered = "group,idempotency_key,account,provider\r\n1@g.us,k1,acme,wasend";
    assert_eq!(csv(reordered).await, want);
    let no_key = csv("account,group,provider\nacme,1@g.us,wasend\n").await;
    assert_eq!(no_key, vec![row(2, "wasend", "acme", "1@g.us", None)]);
}

#[tokio::test]
async fn wrong_headers_are_fatal_and_named() {
    let msg = header_error(b"provider,account,grp,extra\n").await;
    assert!(msg.contains("unknown column(s) `grp`, `extra`"), "{msg}");
    assert!(msg.contains("missing column(s) `group`"), "{msg}");
    let msg = header_error(b"provider,account,group,Provider\n").await;
    assert!(msg.contains("duplicate column(s) `provider`"), "{msg}");
    let msg = header_error(b"").await;
    assert!(msg.contains("no header row"), "{msg}");
    let msg = header_error(b"\n\nprovider,account\n").await;
    assert!(msg.contains("missing column(s) `group`"), "{msg}");
    let msg = header_error(&format!("{},account,group\n", "x".repeat(500)).into_bytes()).await;
    assert!(msg.len() < 200, "long names are cut: {msg}");
}

#[tokio::test]
async fn quoted_fields_keep_their_content_and_lines_stay_right() {
    let input = "provider,account,group\n\
                 wasend,\"ac,me\",\"multi\nline\"\n\
                 \n\
                 \"kir\"\"imin\",b,\"x\r\ny\"\r\n\
                 wasend,c,g\n";
    assert_eq!(
        csv(input).await,
        vec![
            row(2, "wasend", "ac,me", "multi\nline", None),
            row(5, "kir\"imin", "b", "x\r\ny", None),
            row(7, "wasend", "c", "g", None),
        ]
    );
}

#[tokio::test]
async fn bad_records_are_rejected_and_reading_goes_on() {
    let mut input = b"provider,account,group\n\
        wasend,a\"b,g\n\
        wasend,\"a\"b,g\n\
        wasend,a\n\
        wasend,a,g,extra\n\
        wasend,,g\n\
        wasend,acme,\xff\xfe\n\
        \n   \n\
        wasend,ok,g\n"
        .to_vec();
    input.extend_from_slice(b"wasend,x,\"never closed\nat all\n");
    let (items, err) = read_all(Format::Csv, &input, Limits::default()).await;
    assert!(err.is_none());
    let reasons: Vec<(u64, &str)> = items[..6]
        .iter()
        .map(|i| (rejected(i).line, rejected(i).reason.as_str()))
        .collect();
    assert_eq!(reasons[0].0, 2);
    assert!(
        reasons[0]
            .1
            .starts_with("`account`: quote inside an unquoted field")
    );
    assert_eq!(
        reasons[1],
        (3, "`account`: characters after the closing quote")
    );
    assert_eq!(reasons[2], (4, "expected 3 fields, found 2"));
    assert_eq!(reasons[3], (5, "expected 3 fields, found 4"));
    assert_eq!(reasons[4], (6, "`account` is empty"));
    assert_eq!(reasons[5], (7, "`group` is not valid UTF-8"));
    assert_eq!(items[6], row(10, "wasend", "ok", "g", None));
    let last = rejected(&items[7]);
    assert_eq!(last.line, 11);
    assert!(
        last.reason.contains("`group`: quoted field never closed"),
        "{last:?}"
    );
    assert_eq!(items.len(), 8);
}

#[tokio::test]
async fn long_csv_records_are_rejected_without_stopping() {
    let input = format!(
        "provider,account,group\nwasend,a,\"{}\"\nwasend,b,g\n",
        "y\n".repeat(100)
    );
    let limits = Limits::default().with_max_line_bytes(64);
    let (items, err) = read_all(Format::Csv, input.as_bytes(), limits).await;
    assert!(err.is_none());
    assert_eq!(rejected(&items[0]).reason, "record longer than 64 bytes");
    assert_eq!(items[1], row(103, "wasend", "b", "g", None));
}

#[tokio::test]
async fn ndjson_good_and_bad_lines() {
    let input = "{\"provider\":\"wasend\",\"account\":\"a\",\"group\":\"1@g.us\"}\n\
                 \n\
                 not json\n\
                 [\"provider\"]\n\
                 {\"provider\":\"wasend\",\"account\":\"a\",\"group\":\"g\",\"extra\":1}\n\
                 {\"provider\":\"wasend\",\"account\":7,\"group\":\"g\"}\n\
                 {\"provider\":\"wasend\",\"account\":\"\",\"group\":\"g\"}\r\n\
                 {\"group\":\"g\",\"account\":\"b\",\"provider\":\"kirimin\",\"idempotency_key\":\"k\"}";
    let (items, err) = read_all(Format::Ndjson, input.as_bytes(), Limits::default()).await;
    assert!(err.is_none());
    assert_eq!(items[0], row(1, "wasend", "a", "1@g.us", None));
    assert!(rejected(&items[1]).reason.starts_with("not JSON"));
    assert_eq!(rejected(&items[1]).line, 3);
    let reason = |i: usize| rejected(&items[i]).reason.clone();
    assert_eq!(reason(2), "expected a JSON object, found an array");
    assert!(reason(3).starts_with("unknown field `extra`"));
    assert_eq!(reason(4), "`account` must be a string, found a number");
    assert_eq!(reason(5), "`account` is empty");
    assert_eq!(items[6], row(8, "kirimin", "b", "g", Some("k")));
    assert_eq!(items.len(), 7);
}

#[tokio::test]
async fn long_ndjson_lines_are_skipped() {
    let good = r#"{"provider":"p","account":"a","group":"g"}"#;
    let input = format!("{good}\n{}\n{good}\n", "x".repeat(1 << 20));
    let limits = Limits::default().with_max_line_bytes(100);
    let (items, err) = read_all(Format::Ndjson, input.as_bytes(), limits).await;
    assert!(err.is_none());
    assert_eq!(rejected(&items[1]).reason, "line longer than 100 bytes");
    assert_eq!(rejected(&items[1]).line, 2);
    assert_eq!(items[2], row(3, "p", "a", "g", None));
}

#[tokio::test]
async fn too_large_comes_after_the_rows_before_the_limit() {
    let header = "provider,account,group\n";
    let line = "wasend,acme,g\n";
    let input = format!("{header}{}", line.repeat(10));
    let limit = (header.len() + 3 * line.len() + 2) as u64;
    let (items, err) = read_all(
        Format::Csv,
        input.as_bytes(),
        Limits::default().with_max_bytes(limit),
    )
    .await;
    assert_eq!(items.len(), 3);
    assert!(
        matches!(err, Some(Error::TooLarge { limit: l }) if l == limit),
        "{err:?}"
    );
    let exact = (header.len() + 10 * line.len()) as u64;
    let limits = Limits::default().with_max_bytes(exact);
    let (items, err) = read_all(Format::Csv, input.as_bytes(), limits).await;
    assert_eq!((items.len(), err.is_none()), (10, true));
}

/// Generates `rows` CSV rows on the fly, a few bytes per read (a slow, chunky client).
struct Generated {
    next: u64,
    rows: u64,
    pending: Vec<u8>,
    /// Most bytes per read.
    chunk: usize,
}

impl AsyncRead for Generated {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if self.pending.is_empty() && self.next < self.rows {
            let n = self.next;
            self.pending = format!("wasend,acct{},\"g{n},\n{n}\"\n", n % 7).into_bytes();
            self.next += 1;
        }
        let n = self.pending.len().min(buf.remaining()).min(self.chunk);
        buf.put_slice(&self.pending[..n]);
        self.pending.drain(..n);
        Poll::Ready(Ok(()))
    }
}

#[tokio::test]
async fn a_large_generated_csv_streams_through() {
    let rows = 200_000;
    let input = Generated {
        next: 0,
        rows,
        pending: b"provider,account,group\n".to_vec(),
        chunk: 13,
    };
    let stream = upload::read(Format::Csv, input, Limits::default());
    let mut stream = std::pin::pin!(stream);
    let mut count = 0u64;
    while let Some(item) = stream.next().await {
        let Item::Row(row) = item.unwrap() else {
            panic!("rejected")
        };
        assert_eq!(row.line, 2 + 2 * count);
        assert_eq!(row.group, format!("g{count},\n{count}"));
        count += 1;
    }
    assert_eq!(count, rows);
}

#[tokio::test]
async fn a_bom_split_across_reads_is_still_dropped() {
    for (header, ok) in [
        (&b"\xEF\xBB\xBFprovider,account,group\n"[..], true),
        (&b"\xEF\xBBprovider,account,group\n"[..], false),
    ] {
        let input = Generated {
            next: 0,
            rows: 3,
            pending: header.to_vec(),
            chunk: 1,
        };
        let items: Vec<_> = upload::read(Format::Csv, input, Limits::default())
            .collect()
            .await;
        assert_eq!(items.len(), if ok { 3 } else { 1 });
        assert_eq!(items[0].is_ok(), ok, "{items:?}");
    }
}

#[tokio::test]
async fn a_large_ndjson_upload_streams_through_a_pipe() {
    let rows = 200_000u64;
    let (mut tx, rx) = tokio::io::duplex(16 * 1024);
    let writer = tokio::spawn(async move {
        for n in 0..rows {
            let line = format!("{{\"provider\":\"p\",\"account\":\"a\",\"group\":\"g{n}\"}}\n");
            tx.write_all(line.as_bytes()).await.unwrap();
        }
    });
    let mut stream = std::pin::pin!(upload::read(Format::Ndjson, rx, Limits::default()));
    let mut count = 0u64;
    while let Some(item) = stream.next().await {
        let Item::Row(row) = item.unwrap() else {
            panic!("rejected")
        };
        count += 1;
        assert_eq!(row.line, count);
    }
    writer.await.unwrap();
    assert_eq!(count, rows);
}

fn field() -> impl Strategy<Value = String> {
    let c = prop_oneof![
        Just(','),
        Just('"'),
        Just('\n'),
        Just('\r'),
        Just(' '),
        any::<char>()
    ];
    prop::collection::vec(c, 1..10).prop_map(String::from_iter)
}

/// Quotes a field when the `csv` writer would (or when asked to), doubling inner quotes.
fn csv_field(s: &str, force: bool) -> String {
    if force || s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(f)
}

proptest! {
    #[test]
    fn csv_round_trips(
        rows in prop::collection::vec((field(), field(), field(), any::<bool>()), 1..20),
        order in Just([0usize, 1, 2]).prop_shuffle(),
    ) {
        let names = ["provider", "account", "group"];
        let mut input = order.iter().map(|&i| names[i]).collect::<Vec<_>>().join(",");
        input.push_str("\r\n");
        let mut want = Vec::new();
        let mut line = 2;
        for (p, a, g, force) in &rows {
            let values = [p, a, g];
            let cells: Vec<String> = order.iter().map(|&i| csv_field(values[i], *force)).collect();
            input.push_str(&cells.join(","));
            input.push('\n');
            want.push(row(line, p, a, g, None));
            line += 1 + cells.iter().map(|c| c.matches('\n').count() as u64).sum::<u64>();
        }
        let (items, err) = block_on(read_all(Format::Csv, input.as_bytes(), Limits::default()));
        prop_assert!(err.is_none());
        prop_assert_eq!(items, want);
    }

    #[test]
    fn ndjson_round_trips(
        rows in prop::collection::vec((any::<String>(), field(), field(), prop::option::of(field())), 1..20),
    ) {
        let mut input = String::new();
        let mut want = Vec::new();
        for (n, (p, a, g, k)) in rows.iter().enumerate() {
            let value = serde_json::json!({"provider": p, "account": a, "group": g, "idempotency_key": k});
            input.push_str(&serde_json::to_string(&value).unwrap());
            input.push('\n');
            let line = n as u64 + 1;
            want.push(if p.is_empty() {
                Item::Rejected(Rejected { line, reason: "`provider` is empty".into() })
            } else {
                row(line, p, a, g, k.as_deref())
            });
        }
        let (items, err) = block_on(read_all(Format::Ndjson, input.as_bytes(), Limits::default()));
        prop_assert!(err.is_none());
        prop_assert_eq!(items, want);
    }
}
