//! Removing an account's credential from everything an attempt reports.
//!
//! A [`Redactor`] knows the forms in which a credential can come back from a provider: as is,
//! percent-encoded (every non-alphanumeric character, or as a URL path segment is: see
//! [`super::http`]) when echoed from a URL, and, for composite credentials such as a cookie
//! string, each of its parts. Bodies are redacted on receipt, before anything is derived from
//! them, and reports once more when the attempt finishes.

/// Text shown instead of a redacted secret.
pub const REDACTED: &str = "[redacted]";

/// Parts shorter than this are not redacted on their own (they would mangle ordinary text).
const MIN_PART_LEN: usize = 6;

/// The needles to remove for one account's credential.
#[derive(Clone, Default)]
pub struct Redactor {
    needles: Vec<String>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Redactor({} needles)", self.needles.len())
    }
}

impl Redactor {
    /// Redacts `secret`, raw and percent-encoded.
    pub fn new(secret: &str) -> Self {
        Redactor::default().with_part(secret)
    }

    /// Also redacts `part` (raw and percent-encoded), if it is long enough to be a secret.
    ///
    /// Percent-encoded means both every non-alphanumeric character encoded, and encoded as
    /// a URL path segment ([`super::http::endpoint`] keeps `-`, `.`, `_` and `~`): a secret
    /// with characters of both kinds has two different encoded forms.
    pub fn with_part(mut self, part: &str) -> Self {
        use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
        let part = part.trim();
        if part.len() < MIN_PART_LEN {
            return self;
        }
        let encoded = utf8_percent_encode(part, NON_ALPHANUMERIC).to_string();
        let segment = utf8_percent_encode(part, super::http::SEGMENT).to_string();
        for needle in [part.to_owned(), encoded, segment] {
            if !self.needles.contains(&needle) {
                self.needles.push(needle);
            }
        }
        // Longest first, so a whole credential is replaced before any of its parts.
        self.needles.sort_by_key(|n| std::cmp::Reverse(n.len()));
        self
    }

    /// `text` with every needle replaced by [`REDACTED`].
    pub fn text(&self, mut text: String) -> String {
        for needle in &self.needles {
            if text.contains(needle.as_str()) {
                text = text.replace(needle.as_str(), REDACTED);
            }
        }
        text
    }

    /// `bytes` with every needle replaced by [`REDACTED`].
    pub fn bytes(&self, bytes: &mut Vec<u8>) {
        for needle in &self.needles {
            let needle = needle.as_bytes();
            if !bytes.windows(needle.len()).any(|w| w == needle) {
                continue;
            }
            let mut out = Vec::with_capacity(bytes.len());
            let mut rest = bytes.as_slice();
            while let Some(at) = rest.windows(needle.len()).position(|w| w == needle) {
                out.extend_from_slice(&rest[..at]);
                out.extend_from_slice(REDACTED.as_bytes());
                rest = &rest[at + needle.len()..];
            }
            out.extend_from_slice(rest);
            *bytes = out;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_raw_encoded_and_parts() {
        let r = Redactor::new("sid=abc123xyz; csrf=qqqqqqqq")
            .with_part("abc123xyz")
            .with_part("qqqqqqqq")
            .with_part("1");
        let got =
            r.text("cookie sid=abc123xyz; csrf=qqqqqqqq then abc123xyz and qqqqqqqq, 1".into());
        assert_eq!(got, "cookie [redacted] then [redacted] and [redacted], 1");
        let r = Redactor::new("s3cr/t+tok");
        assert_eq!(
            r.text("a s3cr%2Ft%2Btok b s3cr/t+tok".into()),
            "a [redacted] b [redacted]"
        );
        let mut body = b"xx s3cr/t+tok yy".to_vec();
        r.bytes(&mut body);
        assert_eq!(body, b"xx [redacted] yy");
        assert_eq!(format!("{r:?}"), "Redactor(2 needles)");
        // Kept by a path segment, encoded by NON_ALPHANUMERIC: three distinct forms.
        let r = Redactor::new("ab-cd/ef_123");
        assert_eq!(
            r.text("ab-cd/ef_123 ab%2Dcd%2Fef%5F123 ab-cd%2Fef_123".into()),
            "[redacted] [redacted] [redacted]"
        );
        assert_eq!(format!("{r:?}"), "Redactor(3 needles)");
    }
}
