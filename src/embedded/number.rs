//! Numbers as Redis reads and writes them: integers (`string2ll`: no sign `+`, no leading
//! zeros, no spaces), floats (`strtod` without NaN, overflow or underflow) and floats printed
//! with C's `%.17g` (scores, and Lua numbers passed to `redis.call`).

/// Parses an integer the way Redis's `string2ll` does.
pub(super) fn parse_i64(b: &[u8]) -> Option<i64> {
    let digits = b.strip_prefix(b"-").unwrap_or(b);
    let canonical = match digits {
        [b'0'] => b.len() == 1,
        [b'1'..=b'9', rest @ ..] => rest.iter().all(u8::is_ascii_digit),
        _ => false,
    };
    if !canonical {
        return None;
    }
    std::str::from_utf8(b).ok()?.parse().ok()
}

/// Parses a float the way Redis's `string2d` does: no leading space, no NaN, and no value
/// that overflows to infinity or underflows to zero (`inf` itself is fine).
pub(super) fn parse_f64(b: &[u8]) -> Option<f64> {
    let s = std::str::from_utf8(b).ok()?;
    if s.is_empty() || s.starts_with(|c: char| c.is_ascii_whitespace()) {
        return None;
    }
    let v: f64 = s.parse().ok()?;
    let unsigned = s.trim_start_matches(['+', '-']).to_ascii_lowercase();
    if v.is_nan() || (v.is_infinite() && unsigned != "inf" && unsigned != "infinity") {
        return None;
    }
    let mantissa = unsigned.split('e').next().unwrap_or("");
    if v == 0.0 && mantissa.bytes().any(|c| (b'1'..=b'9').contains(&c)) {
        return None;
    }
    Some(v)
}

/// `v` as C's `printf("%.17g", v)` prints it (glibc spelling of infinities and NaN).
pub(super) fn fmt_g17(v: f64) -> String {
    fmt_g(v, 17)
}

/// `v` as C's `printf("%.<precision>g", v)` prints it.
pub(super) fn fmt_g(v: f64, precision: usize) -> String {
    if v.is_nan() {
        return if v.is_sign_negative() { "-nan" } else { "nan" }.into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf" } else { "-inf" }.into();
    }
    if v == 0.0 {
        return if v.is_sign_negative() { "-0" } else { "0" }.into();
    }
    let p = precision.max(1);
    let sci = format!("{:.*e}", p - 1, v);
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i64 = exp.parse().unwrap_or(0);
    if exp >= -4 && exp < p as i64 {
        let decimals = usize::try_from(p as i64 - 1 - exp).unwrap_or(0);
        strip_zeros(format!("{v:.decimals$}"))
    } else {
        let sign = if exp < 0 { '-' } else { '+' };
        format!(
            "{}e{sign}{:02}",
            strip_zeros(mantissa.to_owned()),
            exp.abs()
        )
    }
}

fn strip_zeros(mut s: String) -> String {
    if s.contains('.') {
        let keep = s.trim_end_matches('0').trim_end_matches('.').len();
        s.truncate(keep);
    }
    s
}

/// A Lua number as Redis turns it into an integer reply: truncated toward zero, and
/// `i64::MIN` for NaN, infinities and values out of range (what x86's conversion gives).
pub(super) fn lua_to_i64(v: f64) -> i64 {
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    if v.is_nan() || !(-LIMIT..LIMIT).contains(&v) {
        i64::MIN
    } else {
        v.trunc() as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_like_printf_g17() {
        for (v, s) in [
            (0.1, "0.10000000000000001"),
            (1e20, "1e+20"),
            (0.1 + 0.2, "0.30000000000000004"),
            (123_456_789_012_345_678.0, "1.2345678901234568e+17"),
            (1e-5, "1.0000000000000001e-05"),
            (3.0, "3"),
            (-2.5, "-2.5"),
            (1_700_000_000_123.456, "1700000000123.4561"),
            (f64::INFINITY, "inf"),
            (-0.0, "-0"),
        ] {
            assert_eq!(fmt_g17(v), s, "{v}");
        }
        assert_eq!(fmt_g(0.1, 14), "0.1");
        assert_eq!(fmt_g(1e20, 14), "1e+20");
    }

    #[test]
    fn parses_like_redis() {
        assert_eq!(parse_i64(b"-12"), Some(-12));
        for bad in [&b"01"[..], b"+1", b"-0", b" 1", b"", b"1.0", b"-"] {
            assert_eq!(parse_i64(bad), None, "{bad:?}");
        }
        assert_eq!(parse_f64(b"inf"), Some(f64::INFINITY));
        assert_eq!(parse_f64(b"-1.5e3"), Some(-1500.0));
        for bad in [&b"nan"[..], b"1e400", b"1e-400", b" 1", b"x"] {
            assert_eq!(parse_f64(bad), None, "{bad:?}");
        }
        assert_eq!(lua_to_i64(-2.9), -2);
        assert_eq!(lua_to_i64(1e20), i64::MIN);
    }
}
