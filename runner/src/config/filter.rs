//! Which suites an `[[overrides]]` entry is for: `filter = { runtime =
//! "rust" }`, `{ tag = "long" }`, `{ name = "python-*" }`, or several keys at
//! once (all must match; a key's list matches when any of its values does).
//! Names are globs (`*`, `?`, `[...]`). A filter sees a suite as declared:
//! a canary by its own name, its suite's runtime and its tags (its suite's
//! plus `canary`).

use super::Suite;
use std::fmt;

/// A checked filter.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SuiteFilter {
    pub runtimes: Vec<String>,
    pub tags: Vec<String>,
    pub names: Vec<glob::Pattern>,
}

impl SuiteFilter {
    pub fn matches(&self, suite: &Suite) -> bool {
        let any = |values: &[String], f: &dyn Fn(&str) -> bool| {
            values.is_empty() || values.iter().any(|v| f(v))
        };
        any(&self.runtimes, &|r| suite.runtime == r)
            && any(&self.tags, &|t| suite.tags.iter().any(|have| have == t))
            && (self.names.is_empty() || self.names.iter().any(|p| p.matches(&suite.name)))
    }
}

impl fmt::Display for SuiteFilter {
    /// As memtest.toml would write it: `runtime = "rust", tag = "fast"`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<String> = self.names.iter().map(|p| p.as_str().to_string()).collect();
        let mut parts = Vec::new();
        for (key, values) in [
            ("runtime", &self.runtimes),
            ("tag", &self.tags),
            ("name", &names),
        ] {
            match values.as_slice() {
                [] => {}
                [one] => parts.push(format!("{key} = {one:?}")),
                many => parts.push(format!("{key} = {many:?}")),
            }
        }
        if parts.is_empty() {
            return f.write_str("every suite");
        }
        f.write_str(&parts.join(", "))
    }
}
