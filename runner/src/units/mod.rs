//! Units with their names in the type: byte counts, signed byte deltas and
//! rates, and [`Value`], any figure or limit in its unit. Every place that
//! turns a figure into text (tables, legends, failure sentences, annotations)
//! goes through the `Display` impls here, so "MB" means the same thing
//! everywhere. Parsing of "50MB" / "60s" / "1MB/s" from memtest.toml lives
//! here too.

mod value;

pub use value::{Unit, Value, AT_LEAST_MARK};

use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::Duration;

/// A size in bytes (RSS, VMS, a limit).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Bytes(pub u64);

/// A signed change in bytes (growth may be negative).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct ByteDelta(pub i64);

/// A rate of change in bytes per second (the fitted slope of a series).
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct BytesPerSec(pub f64);

/// Why a size, rate or duration string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnitError {
    #[error("`{0}` is not a size: write a number and a unit, e.g. \"50MB\", \"512KiB\", \"1GB\"")]
    Size(String),
    #[error("`{0}` is not a duration: write a number and a unit, e.g. \"60s\", \"500ms\", \"5m\"")]
    Duration(String),
    #[error("`{0}` is not a rate: write a size per second, e.g. \"1MB/s\"")]
    Rate(String),
    #[error("`{0}` is not a count: write a whole number, e.g. 0")]
    Count(String),
}

fn split_number(s: &str) -> Option<(f64, &str)> {
    let s = s.trim();
    let end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_'))
        .unwrap_or(s.len());
    if end == 0 {
        return None;
    }
    let number: f64 = s[..end].replace('_', "").parse().ok()?;
    if !number.is_finite() || number < 0.0 {
        return None;
    }
    Some((number, s[end..].trim()))
}

impl Bytes {
    /// Parses "50MB", "512KiB", "1.5GB", "4096" (plain bytes), "4096B".
    /// Decimal units are powers of 1000 and binary units powers of 1024, as
    /// their names say.
    pub fn parse(s: &str) -> Result<Bytes, UnitError> {
        let err = || UnitError::Size(s.to_string());
        let (n, unit) = split_number(s).ok_or_else(err)?;
        let mult: f64 = match unit.to_ascii_lowercase().as_str() {
            "" | "b" => 1.0,
            "kb" | "k" => 1e3,
            "mb" | "m" => 1e6,
            "gb" | "g" => 1e9,
            "kib" => 1024.0,
            "mib" => 1024.0 * 1024.0,
            "gib" => 1024.0 * 1024.0 * 1024.0,
            _ => return Err(err()),
        };
        Ok(Bytes((n * mult).round() as u64))
    }

    pub fn as_f64(self) -> f64 {
        self.0 as f64
    }
}

impl BytesPerSec {
    /// Parses "1MB/s", "100KB/s".
    pub fn parse(s: &str) -> Result<BytesPerSec, UnitError> {
        let size = s
            .trim()
            .strip_suffix("/s")
            .ok_or_else(|| UnitError::Rate(s.to_string()))?;
        let bytes = Bytes::parse(size).map_err(|_| UnitError::Rate(s.to_string()))?;
        Ok(BytesPerSec(bytes.0 as f64))
    }
}

/// Parses "60s", "500ms", "5m", "1h", "1.5s".
pub fn parse_duration(s: &str) -> Result<Duration, UnitError> {
    let err = || UnitError::Duration(s.to_string());
    let (n, unit) = split_number(s).ok_or_else(err)?;
    let secs = match unit {
        "ms" => n / 1e3,
        "s" => n,
        "m" | "min" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(err()),
    };
    Ok(Duration::from_secs_f64(secs))
}

fn fmt_magnitude(f: &mut fmt::Formatter<'_>, bytes: f64) -> fmt::Result {
    let abs = bytes.abs();
    let sign = if bytes < 0.0 { "-" } else { "" };
    if abs >= 1e9 {
        write!(f, "{sign}{:.2} GB", abs / 1e9)
    } else if abs >= 1e6 {
        write!(f, "{sign}{:.1} MB", abs / 1e6)
    } else if abs >= 1e3 {
        write!(f, "{sign}{:.1} KB", abs / 1e3)
    } else {
        write!(f, "{sign}{abs:.0} B")
    }
}

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_magnitude(f, self.0 as f64)
    }
}

impl fmt::Display for ByteDelta {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 > 0 {
            f.write_str("+")?;
        }
        fmt_magnitude(f, self.0 as f64)
    }
}

impl fmt::Display for BytesPerSec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_magnitude(f, self.0)?;
        f.write_str("/s")
    }
}

/// Human duration: "850ms", "12.3s", "2m05s".
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms < 60_000 {
        format!("{:.1}s", d.as_secs_f64())
    } else {
        let s = d.as_secs();
        format!("{}m{:02}s", s / 60, s % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_decimal_and_binary_units() {
        let table = [
            ("50MB", 50_000_000),
            ("512KiB", 524_288),
            ("1.5GB", 1_500_000_000),
            ("4096", 4096),
            ("4096B", 4096),
            ("1 mb", 1_000_000),
        ];
        for (text, want) in table {
            assert_eq!(Bytes::parse(text), Ok(Bytes(want)), "{text}");
        }
        for bad in ["", "MB", "-1MB", "5XB", "1e9"] {
            assert!(Bytes::parse(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn durations_and_rates_parse() {
        assert_eq!(parse_duration("60s"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert!(parse_duration("60").is_err());
        assert_eq!(BytesPerSec::parse("1MB/s"), Ok(BytesPerSec(1e6)));
        assert!(BytesPerSec::parse("1MB").is_err());
    }

    #[test]
    fn figures_format_with_units() {
        assert_eq!(Bytes(1_500_000).to_string(), "1.5 MB");
        assert_eq!(ByteDelta(-2_000).to_string(), "-2.0 KB");
        assert_eq!(ByteDelta(3).to_string(), "+3 B");
        assert_eq!(BytesPerSec(2e6).to_string(), "2.0 MB/s");
        assert_eq!(format_duration(Duration::from_millis(850)), "850ms");
        assert_eq!(format_duration(Duration::from_secs(125)), "2m05s");
    }
}
