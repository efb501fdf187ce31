//! Glob patterns as `KEYS` matches them (Redis's `stringmatchlen`): `*`, `?`, `[abc]`,
//! `[^a-z]` and `\` escapes, byte by byte.

/// Whether `text` matches `pattern`.
pub(super) fn matches(pattern: &[u8], text: &[u8]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some((b'*', rest)) => {
            let rest = trim_stars(rest);
            rest.is_empty() || (0..=text.len()).any(|i| matches(rest, &text[i..]))
        }
        Some((b'?', rest)) => !text.is_empty() && matches(rest, &text[1..]),
        Some((b'[', rest)) => match text.split_first() {
            None => false,
            Some((&c, text_rest)) => {
                let (hit, after) = class(rest, c);
                hit && matches(after, text_rest)
            }
        },
        Some((b'\\', rest)) if !rest.is_empty() => {
            text.first() == Some(&rest[0]) && matches(&rest[1..], &text[1..])
        }
        Some((&p, rest)) => text.first() == Some(&p) && matches(rest, &text[1..]),
    }
}

fn trim_stars(mut p: &[u8]) -> &[u8] {
    while let Some((b'*', rest)) = p.split_first() {
        p = rest;
    }
    p
}

/// Matches `c` against the class that `p` starts (after `[`); returns the verdict and the
/// pattern after the closing `]`.
fn class(mut p: &[u8], c: u8) -> (bool, &[u8]) {
    let negate = p.first() == Some(&b'^');
    if negate {
        p = &p[1..];
    }
    let mut hit = false;
    loop {
        match p {
            [] => break,
            [b']', rest @ ..] => {
                p = rest;
                break;
            }
            [b'\\', x, rest @ ..] => {
                hit |= *x == c;
                p = rest;
            }
            [a, b'-', b, rest @ ..] if *b != b']' => {
                let (lo, hi) = if a <= b { (*a, *b) } else { (*b, *a) };
                hit |= (lo..=hi).contains(&c);
                p = rest;
            }
            [x, rest @ ..] => {
                hit |= *x == c;
                p = rest;
            }
        }
    }
    (hit != negate, p)
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn globs() {
        assert!(matches(b"test-1:*", b"test-1:jobs"));
        assert!(!matches(b"test-1:*", b"test-2:jobs"));
        assert!(matches(b"h?llo", b"hallo"));
        assert!(matches(b"h[^e]llo", b"hallo"));
        assert!(!matches(b"h[^e]llo", b"hello"));
        assert!(matches(b"h[a-c]llo", b"hbllo"));
        assert!(matches(b"a\\*b", b"a*b"));
        assert!(matches(b"*", b""));
        assert!(matches(b"**a**", b"xxa"));
    }
}
