//! A figure or limit with its unit ([`Value`]), and the units a limit is
//! written in ([`Unit`]). Every report cell, legend label, failure sentence
//! and `list` entry prints through `Value`'s `Display`, so one figure reads
//! the same everywhere; JSON reports write and read values through here too.

use super::{format_duration, ByteDelta, Bytes, BytesPerSec, UnitError};
use serde::{Serialize, Serializer};
use std::fmt;
use std::time::Duration;

/// A figure or a limit, in its unit.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A size: a peak, a size limit ("16.0 MB").
    Size(Bytes),
    /// A size known only as a lower bound: a sampled peak ("≥16.0 MB").
    AtLeast(Bytes),
    /// A signed change: a growth, a growth limit ("+16.0 MB").
    Delta(ByteDelta),
    /// Bytes per second ("2.0 MB/s").
    Rate(BytesPerSec),
    /// Bytes per operation the suite reported ("+4.0 KB/op").
    PerOp(f64),
    /// Bytes per call of the library ("256 B/call"): a detection floor.
    PerCall(Bytes),
    /// A count (native allocations left live).
    Count(u64),
    Duration(Duration),
    Text(String),
}

/// Marks a peak that was sampled (a lower bound) rather than exact.
pub const AT_LEAST_MARK: &str = "≥";

impl Value {
    /// The number behind the value, for comparing against a limit and for
    /// sorting: bytes, bytes per second or per operation, a count, or
    /// milliseconds. Text has none (0).
    pub fn magnitude(&self) -> f64 {
        match self {
            Value::Size(b) | Value::AtLeast(b) | Value::PerCall(b) => b.as_f64(),
            Value::Delta(d) => d.0 as f64,
            Value::Rate(r) => r.0,
            Value::PerOp(b) => *b,
            Value::Count(n) => *n as f64,
            Value::Duration(d) => d.as_secs_f64() * 1e3,
            Value::Text(_) => 0.0,
        }
    }

    /// The value as bytes, for a size-like limit (negative deltas are 0).
    pub fn bytes(&self) -> Option<Bytes> {
        match self {
            Value::Size(b) | Value::AtLeast(b) | Value::PerCall(b) => Some(*b),
            Value::Delta(d) => Some(Bytes(d.0.max(0) as u64)),
            Value::PerOp(b) => Some(Bytes(b.max(0.0).round() as u64)),
            _ => None,
        }
    }

    pub fn rate(&self) -> Option<BytesPerSec> {
        match self {
            Value::Rate(r) => Some(*r),
            _ => None,
        }
    }

    pub fn count(&self) -> Option<u64> {
        match self {
            Value::Count(n) => Some(*n),
            _ => None,
        }
    }

    pub fn text(&self) -> Option<&str> {
        match self {
            Value::Text(s) => Some(s),
            _ => None,
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Size(b) => b.fmt(f),
            Value::AtLeast(b) => write!(f, "{AT_LEAST_MARK}{b}"),
            Value::Delta(d) => d.fmt(f),
            Value::Rate(r) => r.fmt(f),
            Value::PerOp(b) => write!(f, "{}/op", ByteDelta(b.round() as i64)),
            Value::PerCall(b) => write!(f, "{b}/call"),
            Value::Count(n) => n.fmt(f),
            Value::Duration(d) => f.write_str(&format_duration(*d)),
            Value::Text(s) => f.write_str(s),
        }
    }
}

/// In JSON a value is its plain number (bytes, bytes per second, a count,
/// milliseconds) or its text: the unit is in the field's name.
impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Size(b) | Value::AtLeast(b) | Value::PerCall(b) => s.serialize_u64(b.0),
            Value::Delta(d) => s.serialize_i64(d.0),
            Value::Rate(r) => s.serialize_f64(r.0),
            Value::PerOp(b) => s.serialize_f64(*b),
            Value::Count(n) => s.serialize_u64(*n),
            Value::Duration(d) => s.serialize_u64(d.as_millis() as u64),
            Value::Text(t) => s.serialize_str(t),
        }
    }
}

/// How a limit is written in memtest.toml and what [`Value`] it becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// A size, "50MB": a [`Value::Size`].
    Size,
    /// A size allowed to be added, "16MB": a [`Value::Delta`].
    Growth,
    /// A size per second, "1MB/s": a [`Value::Rate`].
    Rate,
    /// A size per operation, "4KB": a [`Value::PerOp`].
    PerOp,
    /// A size per call of the library, "1KB": a [`Value::PerCall`].
    PerCall,
    /// A whole number: a [`Value::Count`].
    Count,
    /// A line of text: a [`Value::Text`].
    Text,
}

impl Unit {
    /// Parses the text form of a size-like unit ("16MB", "2MB/s").
    pub fn parse(self, text: &str) -> Result<Value, UnitError> {
        Ok(match self {
            Unit::Size => Value::Size(Bytes::parse(text)?),
            Unit::Growth => Value::Delta(ByteDelta(Bytes::parse(text)?.0 as i64)),
            Unit::Rate => Value::Rate(BytesPerSec::parse(text)?),
            Unit::PerOp => Value::PerOp(Bytes::parse(text)?.as_f64()),
            Unit::PerCall => Value::PerCall(Bytes::parse(text)?),
            Unit::Count => Value::Count(
                text.trim()
                    .parse()
                    .map_err(|_| UnitError::Count(text.to_string()))?,
            ),
            Unit::Text => Value::Text(text.to_string()),
        })
    }

    /// What to write instead, for a message about a bad value.
    pub fn example(self) -> &'static str {
        match self {
            Unit::Size | Unit::Growth => "a size, e.g. \"16MB\"",
            Unit::Rate => "a size per second, e.g. \"1MB/s\"",
            Unit::PerOp => "a size per operation, e.g. \"4KB\"",
            Unit::PerCall => "a size per call, e.g. \"1KB\"",
            Unit::Count => "a whole number, e.g. 0",
            Unit::Text => "a line of text",
        }
    }

    /// Reads a value of this unit back from a JSON report.
    pub fn from_json(self, json: &serde_json::Value) -> Option<Value> {
        Some(match self {
            Unit::Size => Value::Size(Bytes(json.as_u64()?)),
            Unit::Growth => Value::Delta(ByteDelta(json.as_i64()?)),
            Unit::Rate => Value::Rate(BytesPerSec(json.as_f64()?)),
            Unit::PerOp => Value::PerOp(json.as_f64()?),
            Unit::PerCall => Value::PerCall(Bytes(json.as_u64()?)),
            Unit::Count => Value::Count(json.as_u64()?),
            Unit::Text => Value::Text(json.as_str()?.to_string()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_print_in_their_unit() {
        let table = [
            (Value::Size(Bytes(16_000_000)), "16.0 MB"),
            (Value::AtLeast(Bytes(16_000_000)), "≥16.0 MB"),
            (Value::Delta(ByteDelta(16_000_000)), "+16.0 MB"),
            (Value::Rate(BytesPerSec(2e6)), "2.0 MB/s"),
            (Value::PerOp(3_987.4), "+4.0 KB/op"),
            (Value::PerCall(Bytes(256)), "256 B/call"),
            (Value::Count(3), "3"),
            (Value::Duration(Duration::from_millis(2_940)), "2.9s"),
            (Value::Text("TEST PASSED".into()), "TEST PASSED"),
        ];
        for (value, text) in table {
            assert_eq!(value.to_string(), text);
        }
    }

    #[test]
    fn units_parse_their_text_and_read_their_json_back() {
        let table = [
            (Unit::Size, "16MB", Value::Size(Bytes(16_000_000))),
            (Unit::Growth, "16MB", Value::Delta(ByteDelta(16_000_000))),
            (Unit::Rate, "2MB/s", Value::Rate(BytesPerSec(2e6))),
            (Unit::PerOp, "4KB", Value::PerOp(4e3)),
            (Unit::PerCall, "1KB", Value::PerCall(Bytes(1_000))),
            (Unit::Count, "3", Value::Count(3)),
        ];
        for (unit, text, value) in table {
            assert_eq!(unit.parse(text).as_ref(), Ok(&value), "{text}");
            let json = serde_json::to_value(&value).unwrap();
            assert_eq!(unit.from_json(&json), Some(value), "{text}");
        }
        assert!(Unit::Rate.parse("2MB").is_err());
        assert!(Unit::Count.parse("-1").is_err());
    }
}
