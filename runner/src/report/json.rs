//! The JSON report's text (docs/report-schema.md): pretty-printed, except that
//! arrays of plain values (the sample series, tags) stay on one line. A run
//! has thousands of samples; one per line would bury everything else, and a
//! readable file is what people diff and what the insta snapshot shows.
//!
//! Done by a `serde_json` [`Formatter`] rather than by re-scanning the pretty
//! text: the formatter sees the value's structure, so strings holding
//! brackets or commas (log lines) need no special care.

use super::export::Exporter;
use super::model::Report;
use super::ReportError;
use serde::Serialize;
use serde_json::ser::{CharEscape, CompactFormatter, Formatter};
use std::io::{self, Write};

/// The report as pretty JSON with flat arrays on one line, ending in a newline.
pub fn render_json(report: &Report) -> String {
    to_string(report).expect("a report always serialises")
}

/// The JSON report (`--json FILE`).
pub struct JsonExporter;

impl Exporter for JsonExporter {
    fn export(&self, report: &Report) -> Result<Vec<u8>, ReportError> {
        Ok(render_json(report).into_bytes())
    }
}

/// Any value in the report's style (see the module docs).
pub fn to_string<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<String> {
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut out, FlatArrays::default());
    value.serialize(&mut ser)?;
    out.push(b'\n');
    Ok(String::from_utf8(out).expect("serde_json writes UTF-8"))
}

/// Two-space pretty printing in which an array goes multi-line only once an
/// object or array turns up inside it.
///
/// A formatter cannot look ahead, so the separator before an array element is
/// held back (`pending`) until the element's first write shows what it is: a
/// plain value gets `", "`, a container gets a newline and indentation, and
/// the array remembers that it must close on a line of its own.
#[derive(Debug, Default)]
struct FlatArrays {
    indent: usize,
    /// One entry per open object or array: whether it is being written over
    /// several lines (an object with a key; an array holding a container).
    multiline: Vec<bool>,
    /// The separator owed before the next array element: `Some(first)`.
    pending: Option<bool>,
}

impl FlatArrays {
    fn newline<W: ?Sized + Write>(&self, w: &mut W) -> io::Result<()> {
        w.write_all(b"\n")?;
        for _ in 0..self.indent {
            w.write_all(b"  ")?;
        }
        Ok(())
    }

    /// Before a plain value: the one-line separator, if one is owed.
    fn plain<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        match self.pending.take() {
            Some(false) => w.write_all(b", "),
            _ => Ok(()),
        }
    }

    /// Before an object or array: if it is an array element, its array goes
    /// multi-line from here on.
    fn container<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        let Some(first) = self.pending.take() else {
            return Ok(());
        };
        if let Some(open) = self.multiline.last_mut() {
            *open = true;
        }
        if !first {
            w.write_all(b",")?;
        }
        self.newline(w)
    }

    fn open<W: ?Sized + Write>(&mut self, w: &mut W, bracket: &[u8]) -> io::Result<()> {
        self.container(w)?;
        self.indent += 1;
        self.multiline.push(false);
        w.write_all(bracket)
    }

    fn close<W: ?Sized + Write>(&mut self, w: &mut W, bracket: &[u8]) -> io::Result<()> {
        self.indent -= 1;
        if self.multiline.pop().unwrap_or(false) {
            self.newline(w)?;
        }
        w.write_all(bracket)
    }
}

/// Plain values: settle the held-back separator, then write as compact JSON.
macro_rules! plain {
    ($($method:ident($ty:ty)),* $(,)?) => {$(
        fn $method<W: ?Sized + Write>(&mut self, w: &mut W, value: $ty) -> io::Result<()> {
            self.plain(w)?;
            CompactFormatter.$method(w, value)
        }
    )*};
}

impl Formatter for FlatArrays {
    plain!(
        write_bool(bool),
        write_i8(i8),
        write_i16(i16),
        write_i32(i32),
        write_i64(i64),
        write_i128(i128),
        write_u8(u8),
        write_u16(u16),
        write_u32(u32),
        write_u64(u64),
        write_u128(u128),
        write_f32(f32),
        write_f64(f64),
        write_number_str(&str),
        write_raw_fragment(&str),
    );

    fn write_null<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.plain(w)?;
        w.write_all(b"null")
    }

    fn begin_string<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.plain(w)?;
        w.write_all(b"\"")
    }

    fn write_char_escape<W: ?Sized + Write>(
        &mut self,
        w: &mut W,
        escape: CharEscape,
    ) -> io::Result<()> {
        CompactFormatter.write_char_escape(w, escape)
    }

    fn begin_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.open(w, b"[")
    }

    fn end_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.close(w, b"]")
    }

    fn begin_array_value<W: ?Sized + Write>(&mut self, _: &mut W, first: bool) -> io::Result<()> {
        self.pending = Some(first);
        Ok(())
    }

    fn end_array_value<W: ?Sized + Write>(&mut self, _: &mut W) -> io::Result<()> {
        Ok(())
    }

    fn begin_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.open(w, b"{")
    }

    fn end_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.close(w, b"}")
    }

    fn begin_object_key<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        if let Some(open) = self.multiline.last_mut() {
            *open = true;
        }
        if !first {
            w.write_all(b",")?;
        }
        self.newline(w)
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b": ")
    }
}

#[cfg(test)]
mod tests {
    use super::super::testdata::*;
    use super::*;
    use serde_json::json;

    #[test]
    fn flat_arrays_stay_on_one_line_and_containers_do_not() {
        let value = json!({
            "a": ["≥x],\"[y", "z"],
            "b": [{}],
            "c": [],
            "d": [[1, 2], [3]],
            "e": {},
            "f": [{"g": [null, true, 1.5]}],
        });
        let text = to_string(&value).unwrap();
        assert_eq!(
            text,
            r#"{
  "a": ["≥x],\"[y", "z"],
  "b": [
    {}
  ],
  "c": [],
  "d": [
    [1, 2],
    [3]
  ],
  "e": {},
  "f": [
    {
      "g": [null, true, 1.5]
    }
  ]
}
"#
        );
        let back: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back, value);
    }

    #[test]
    fn the_report_keeps_its_series_on_one_line_and_round_trips() {
        let report = report_of(&mixed_outcomes());
        let text = render_json(&report);
        assert!(text.contains("\"t_ms\": [0, 100, 200, 300,"), "{text}");
        assert!(text.contains("\"tags\": [\"node\", \"fast\"]"));
        assert!(text.starts_with("{\n  \"schema_version\": 1,\n"));
        assert_eq!(
            serde_json::from_str::<Report>(&text).unwrap(),
            report,
            "{text}"
        );
    }
}
