//! Helpers the benches share (`benches/*.rs`): their arguments, which fail loudly instead of
//! falling back to a default, the median of the runs, figures as text, and key prefixes.

use std::fmt::Display;
use std::str::FromStr;

/// Ends the bench with `message` and the usage error status (64).
pub fn usage_error(message: &str) -> ! {
    eprintln!("error: {message}");
    std::process::exit(64)
}

/// The value after `flag` (the next argument of `args`), parsed; a missing or bad value ends
/// the bench.
pub fn value<T>(flag: &str, args: &mut impl Iterator<Item = String>) -> T
where
    T: FromStr,
    T::Err: Display,
{
    let Some(text) = args.next() else {
        usage_error(&format!("{flag} needs a value"))
    };
    text.parse()
        .unwrap_or_else(|e| usage_error(&format!("{flag} {text:?}: {e}")))
}

/// The value after `flag`: a comma-separated list, every item parsed.
pub fn list<T>(flag: &str, args: &mut impl Iterator<Item = String>) -> Vec<T>
where
    T: FromStr,
    T::Err: Display,
{
    let text: String = value(flag, args);
    text.split(',')
        .map(|s| {
            s.trim()
                .parse()
                .unwrap_or_else(|e| usage_error(&format!("{flag} {text:?}: {s:?}: {e}")))
        })
        .collect()
}

/// Ends the bench on an argument it does not know (`cargo bench` itself passes `--bench`).
pub fn unknown(arg: &str) {
    if arg != "--bench" {
        usage_error(&format!("unknown argument {arg:?}"));
    }
}

/// The median of `v` (the upper one of an even count); `v` must not be empty.
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// A Redis key prefix of its own for one run: `bench-<uuid>` (left-overs of an interrupted
/// run go with `redis-cli --scan --pattern 'bench-*' | xargs -r -n 1000 redis-cli unlink`).
pub fn prefix() -> String {
    format!("bench-{}", uuid::Uuid::now_v7().simple())
}

/// `values` as text, `sep` between them, each with `decimals` decimals.
pub fn joined(values: impl IntoIterator<Item = f64>, decimals: usize, sep: &str) -> String {
    values
        .into_iter()
        .map(|v| format!("{v:.decimals$}"))
        .collect::<Vec<_>>()
        .join(sep)
}
