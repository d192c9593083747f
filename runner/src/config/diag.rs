//! Diagnostics pointing into memtest.toml, rendered the way rustc and cargo
//! render theirs (path:line:col, the offending line, a caret under the span),
//! so an editor can jump to them and a reader sees the mistake in place. Also
//! the "did you mean" helper shared by config and selection.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// One problem at one place in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub path: PathBuf,
    /// 1-based.
    pub line: usize,
    /// 1-based, in characters.
    pub col: usize,
    pub message: String,
    /// What to do about it.
    pub hint: Option<String>,
    /// The text of the line the span starts on.
    pub source_line: String,
    /// Characters to underline (at least 1).
    pub width: usize,
}

impl Diagnostic {
    /// Locates `span` (byte offsets into `source`). A span past the end (or
    /// none at all) points at the end of the file.
    pub fn new(
        path: &Path,
        source: &str,
        span: Option<Range<usize>>,
        message: impl Into<String>,
        hint: Option<String>,
    ) -> Diagnostic {
        let span = span.unwrap_or(source.len()..source.len());
        let start = floor_char_boundary(source, span.start.min(source.len()));
        let line_start = source[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = source[start..]
            .find('\n')
            .map_or(source.len(), |i| start + i);
        let line = source[..start].matches('\n').count() + 1;
        let col = source[line_start..start].chars().count() + 1;
        let end = floor_char_boundary(source, span.end.clamp(start, line_end));
        let width = source[start..end].chars().count().max(1);
        Diagnostic {
            path: path.to_path_buf(),
            line,
            col,
            message: message.into(),
            hint,
            source_line: source[line_start..line_end]
                .trim_end_matches('\r')
                .to_string(),
            width,
        }
    }

    /// `path:line:col` alone, for one-line mentions ("first defined at ...").
    pub fn location(&self) -> String {
        format!("{}:{}:{}", self.path.display(), self.line, self.col)
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let gutter = " ".repeat(self.line.to_string().len());
        writeln!(f, "{}", self.message)?;
        writeln!(f, "{gutter}--> {}", self.location())?;
        writeln!(f, "{gutter} |")?;
        writeln!(f, "{} | {}", self.line, self.source_line)?;
        write!(
            f,
            "{gutter} | {}{}",
            " ".repeat(self.col - 1),
            "^".repeat(self.width)
        )?;
        if let Some(hint) = &self.hint {
            write!(f, "\n{gutter} = help: {hint}")?;
        }
        Ok(())
    }
}

/// Candidates close to `name` (edit distance at most a quarter of its
/// length, at least 1, or sharing a prefix), closest first, at most three.
pub fn near_matches<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    let budget = (name.chars().count() / 4).max(1);
    let mut scored: Vec<(usize, &str)> = candidates
        .into_iter()
        .filter_map(|c| {
            // Optimal string alignment: swapping two neighbours costs one,
            // so "fsat" is one typo away from "fast".
            let d = strsim::osa_distance(name, c);
            let prefix = name.len() >= 3 && (c.starts_with(name) || name.starts_with(c));
            (d <= budget || prefix).then_some((d, c))
        })
        .collect();
    scored.sort();
    scored.dedup();
    scored.into_iter().take(3).map(|(_, c)| c).collect()
}

/// "did you mean `a` or `b`?", or the list of what exists when nothing is
/// close, or nothing at all when nothing exists.
pub fn suggestion<'a>(
    name: &str,
    what: &str,
    candidates: impl IntoIterator<Item = &'a str> + Clone,
) -> Option<String> {
    let near = near_matches(name, candidates.clone());
    if !near.is_empty() {
        return Some(format!("did you mean {}?", quoted_list(&near, "or")));
    }
    let all: Vec<&str> = candidates.into_iter().collect();
    if all.is_empty() {
        return None;
    }
    Some(format!("defined {what}: {}", quoted_list(&all, "and")))
}

fn quoted_list(items: &[&str], conj: &str) -> String {
    let quoted: Vec<String> = items.iter().map(|i| format!("`{i}`")).collect();
    match quoted.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} {conj} {last}", init.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locates_spans_by_line_and_character_column() {
        let src = "a = 1\n# é\nkey = \"bad\"\n";
        let at = src.find("\"bad\"").unwrap();
        let d = Diagnostic::new(Path::new("m.toml"), src, Some(at..at + 5), "oops", None);
        assert_eq!((d.line, d.col, d.width), (3, 7, 5));
        assert_eq!(d.source_line, "key = \"bad\"");
        assert_eq!(
            d.to_string(),
            "oops\n --> m.toml:3:7\n  |\n3 | key = \"bad\"\n  |       ^^^^^"
        );
        let end = Diagnostic::new(
            Path::new("m.toml"),
            src,
            None,
            "missing",
            Some("add it".into()),
        );
        assert_eq!((end.line, end.col), (4, 1));
        assert!(end.to_string().ends_with("= help: add it"));
    }

    #[test]
    fn multi_line_spans_underline_to_the_end_of_their_first_line() {
        let src = "x = [\n  1,\n]\n";
        let d = Diagnostic::new(Path::new("m"), src, Some(4..src.len()), "m", None);
        assert_eq!((d.line, d.col, d.width), (1, 5, 1));
    }

    #[test]
    fn near_matches_find_typos_and_prefixes() {
        let names = [
            "rust-memory-leak",
            "rust-canary-leak",
            "node-gc",
            "python-gc",
        ];
        assert_eq!(near_matches("rust-memory-lek", names), ["rust-memory-leak"]);
        assert_eq!(near_matches("node", names), ["node-gc"]);
        assert!(near_matches("zzz", names).is_empty());
        assert_eq!(near_matches("fsat", ["fast", "slow"]), ["fast"]);
        assert_eq!(
            suggestion("pyton", "runtimes", ["node", "python"]).as_deref(),
            Some("did you mean `python`?")
        );
        assert_eq!(
            suggestion("java", "runtimes", ["node", "python", "rust"]).as_deref(),
            Some("defined runtimes: `node`, `python` and `rust`")
        );
        assert_eq!(suggestion("java", "runtimes", []), None);
    }
}
