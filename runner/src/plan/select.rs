//! Selection: which suites of the config a command line asks for, and the CI
//! matrix that splits them into jobs. One pure function holds the rule, so
//! `run`, `list` and `matrix` agree on it.

use crate::config::{suggestion, Config, Suite};
use serde::Serialize;
use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

/// What the user asked for. Empty lists do not filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Exact suite names.
    pub names: Vec<String>,
    /// Keep suites with any of these tags.
    pub tags: Vec<String>,
    /// Drop suites with any of these tags.
    pub exclude_tags: Vec<String>,
    /// Keep suites whose runtime (its name or its kind) is any of these.
    pub runtimes: Vec<String>,
    pub partition: Option<Partition>,
}

/// `--partition k/n`: the k-th (1-based) of n slices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Partition {
    pub k: usize,
    pub n: usize,
}

impl FromStr for Partition {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("`{s}` is not a partition: write k/n with 1 <= k <= n, e.g. 1/3");
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let k: usize = k.trim().parse().map_err(|_| bad())?;
        let n: usize = n.trim().parse().map_err(|_| bad())?;
        if n == 0 || k == 0 || k > n {
            return Err(bad());
        }
        Ok(Partition { k, n })
    }
}

impl fmt::Display for Partition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.k, self.n)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectError {
    #[error("no suite named `{name}` in memtest.toml{}", hint_suffix(hint))]
    UnknownSuite { name: String, hint: Option<String> },
    #[error("no runtime `{name}` in memtest.toml{}", hint_suffix(hint))]
    UnknownRuntime { name: String, hint: Option<String> },
    #[error("no suite matches {filter}{}", hint_suffix(hint))]
    NothingSelected {
        filter: String,
        hint: Option<String>,
    },
}

fn hint_suffix(hint: &Option<String>) -> String {
    hint.as_ref().map(|h| format!(": {h}")).unwrap_or_default()
}

/// The suites `filter` picks, in config order. Names, tags and runtimes
/// narrow the set; then a partition keeps every n-th suite of the selection
/// sorted by name, starting at the k-th (round-robin spreads long suites that
/// sit next to each other). A filter that matches nothing is an error; an
/// empty partition of a non-empty selection is not (CI may split 2 suites 3
/// ways).
pub fn select<'c>(config: &'c Config, filter: &Filter) -> Result<Vec<&'c Suite>, SelectError> {
    let all_names = || config.suites.iter().map(|s| s.name.as_str());
    for name in &filter.names {
        if config.suite(name).is_none() {
            return Err(SelectError::UnknownSuite {
                name: name.clone(),
                hint: suggestion(name, "suites", all_names()),
            });
        }
    }
    for rt in &filter.runtimes {
        let known = config
            .runtimes
            .values()
            .any(|r| &r.name == rt || r.kind.as_str() == rt);
        if !known {
            return Err(SelectError::UnknownRuntime {
                name: rt.clone(),
                hint: suggestion(rt, "runtimes", config.runtimes.keys().map(String::as_str)),
            });
        }
    }
    let has_any = |suite: &Suite, tags: &[String]| suite.tags.iter().any(|t| tags.contains(t));
    let picked: Vec<&Suite> = config
        .suites
        .iter()
        .filter(|s| filter.names.is_empty() || filter.names.contains(&s.name))
        .filter(|s| filter.tags.is_empty() || has_any(s, &filter.tags))
        .filter(|s| !has_any(s, &filter.exclude_tags))
        .filter(|s| {
            filter.runtimes.is_empty()
                || filter
                    .runtimes
                    .iter()
                    .any(|r| *r == s.runtime || r == s.kind.as_str())
        })
        .collect();
    if picked.is_empty() {
        let tags: BTreeSet<&str> = config
            .suites
            .iter()
            .flat_map(|s| &s.tags)
            .map(String::as_str)
            .collect();
        let unknown_tag = filter.tags.iter().find(|t| !tags.contains(t.as_str()));
        let hint = unknown_tag.and_then(|t| suggestion(t, "tags", tags.iter().copied()));
        return Err(SelectError::NothingSelected {
            filter: describe(filter),
            hint,
        });
    }
    let Some(Partition { k, n }) = filter.partition else {
        return Ok(picked);
    };
    let mut sorted: Vec<&str> = picked.iter().map(|s| s.name.as_str()).collect();
    sorted.sort_unstable();
    let keep: BTreeSet<&str> = sorted.into_iter().skip(k - 1).step_by(n).collect();
    Ok(picked
        .into_iter()
        .filter(|s| keep.contains(s.name.as_str()))
        .collect())
}

fn describe(filter: &Filter) -> String {
    let mut parts = Vec::new();
    parts.extend(filter.names.iter().cloned());
    parts.extend(filter.tags.iter().map(|t| format!("--tag {t}")));
    parts.extend(
        filter
            .exclude_tags
            .iter()
            .map(|t| format!("--exclude-tag {t}")),
    );
    parts.extend(filter.runtimes.iter().map(|r| format!("--runtime {r}")));
    if parts.is_empty() {
        "(no suites defined)".to_string()
    } else {
        parts.join(" ")
    }
}

/// How `memtest matrix` groups suites into CI jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    Runtime,
    Tag,
}

/// One CI job: `memtest run <args>` runs its suites.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MatrixEntry {
    pub name: String,
    pub args: String,
    /// For people reading the matrix; CI only needs `args`.
    pub suites: Vec<String>,
}

/// `{"include": [...]}`, the shape of a GitHub `strategy.matrix`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Matrix {
    pub include: Vec<MatrixEntry>,
}

/// One entry per runtime that has suites, or per tag in use (a suite with two
/// tags then runs in two jobs: group by tags that partition the suites).
/// Sorted by name, so the matrix only changes when memtest.toml does.
pub fn matrix(config: &Config, by: GroupBy) -> Matrix {
    let keys: BTreeSet<&str> = match by {
        GroupBy::Runtime => config.suites.iter().map(|s| s.runtime.as_str()).collect(),
        GroupBy::Tag => config
            .suites
            .iter()
            .flat_map(|s| &s.tags)
            .map(String::as_str)
            .collect(),
    };
    let include = keys
        .into_iter()
        .map(|key| {
            let flag = match by {
                GroupBy::Runtime => "--runtime",
                GroupBy::Tag => "--tag",
            };
            let member = |s: &Suite| match by {
                GroupBy::Runtime => s.runtime == key,
                GroupBy::Tag => s.tags.iter().any(|t| t == key),
            };
            MatrixEntry {
                name: key.to_string(),
                args: format!("{flag} {key}"),
                suites: config
                    .suites
                    .iter()
                    .filter(|s| member(s))
                    .map(|s| s.name.clone())
                    .collect(),
            }
        })
        .collect();
    Matrix { include }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{self, Config};
    use std::path::Path;

    fn config() -> Config {
        let mut text = String::from(
            "[build]\npackage = \"p\"\nlib = \"p\"\nlib_env = \"L\"\nrust_suites = \"m\"\n\
             [runtimes.rust]\nkind = \"rust\"\n[runtimes.py]\nkind = \"python\"\nprogram = \"python3\"\n",
        );
        for (name, runtime, tags) in [
            ("rust-leak", "rust", "\"rust\", \"fast\""),
            ("rust-canary", "rust", "\"rust\", \"fast\", \"canary\""),
            ("rust-pressure", "rust", "\"rust\", \"long\""),
            ("py-gc", "py", "\"python\", \"fast\""),
            ("py-buffers", "py", "\"python\""),
        ] {
            let target = if runtime == "rust" {
                "test = \"t\""
            } else {
                "script = \"s.py\""
            };
            text.push_str(&format!(
                "[[suite]]\nname = \"{name}\"\nruntime = \"{runtime}\"\n{target}\ntags = [{tags}]\n"
            ));
        }
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("s.py"), "").unwrap();
        config::parse(&text, Path::new("memtest.toml"), dir.path()).unwrap()
    }

    fn names(config: &Config, filter: &Filter) -> Vec<String> {
        select(config, filter)
            .unwrap()
            .iter()
            .map(|s| s.name.clone())
            .collect()
    }

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn filters_combine_as_documented() {
        let c = config();
        let all = names(&c, &Filter::default());
        assert_eq!(
            all,
            [
                "rust-leak",
                "rust-canary",
                "rust-pressure",
                "py-gc",
                "py-buffers"
            ]
        );
        let table: &[(Filter, &[&str])] = &[
            (
                Filter {
                    names: strings(&["py-gc", "rust-leak"]),
                    ..Filter::default()
                },
                &["rust-leak", "py-gc"],
            ),
            (
                Filter {
                    tags: strings(&["canary", "python"]),
                    ..Filter::default()
                },
                &["rust-canary", "py-gc", "py-buffers"],
            ),
            (
                Filter {
                    tags: strings(&["fast"]),
                    exclude_tags: strings(&["canary"]),
                    ..Filter::default()
                },
                &["rust-leak", "py-gc"],
            ),
            (
                Filter {
                    runtimes: strings(&["python"]),
                    ..Filter::default()
                },
                &["py-gc", "py-buffers"],
            ),
            (
                Filter {
                    runtimes: strings(&["py"]),
                    tags: strings(&["fast"]),
                    ..Filter::default()
                },
                &["py-gc"],
            ),
            (
                Filter {
                    exclude_tags: strings(&["rust"]),
                    ..Filter::default()
                },
                &["py-gc", "py-buffers"],
            ),
        ];
        for (filter, want) in table {
            assert_eq!(names(&c, filter), *want, "{filter:?}");
        }
    }

    #[test]
    fn partitions_are_disjoint_complete_and_deterministic() {
        let c = config();
        for n in 1..=6 {
            let mut seen = Vec::new();
            for k in 1..=n {
                let filter = Filter {
                    partition: Some(Partition { k, n }),
                    ..Filter::default()
                };
                let part = names(&c, &filter);
                assert_eq!(part, names(&c, &filter), "same answer twice");
                seen.extend(part);
            }
            seen.sort();
            let mut all = names(&c, &Filter::default());
            all.sort();
            assert_eq!(seen, all, "n = {n}: every suite in exactly one slice");
        }
        // Sorted names: py-buffers, py-gc, rust-canary, rust-leak, rust-pressure.
        let second = Filter {
            partition: Some(Partition { k: 2, n: 2 }),
            ..Filter::default()
        };
        assert_eq!(names(&c, &second), ["rust-leak", "py-gc"]);
    }

    #[test]
    fn unknown_names_and_empty_selections_are_errors_with_hints() {
        let c = config();
        let err = select(
            &c,
            &Filter {
                names: strings(&["rust-lek"]),
                ..Filter::default()
            },
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "no suite named `rust-lek` in memtest.toml: did you mean `rust-leak`?"
        );
        let err = select(
            &c,
            &Filter {
                runtimes: strings(&["node"]),
                ..Filter::default()
            },
        )
        .unwrap_err();
        assert!(matches!(err, SelectError::UnknownRuntime { .. }), "{err}");
        let err = select(
            &c,
            &Filter {
                tags: strings(&["fsat"]),
                ..Filter::default()
            },
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "no suite matches --tag fsat: did you mean `fast`?"
        );
        let none = Filter {
            tags: strings(&["canary"]),
            exclude_tags: strings(&["rust"]),
            ..Filter::default()
        };
        assert!(matches!(
            select(&c, &none),
            Err(SelectError::NothingSelected { .. })
        ));
    }

    #[test]
    fn matrix_groups_by_runtime_or_tag() {
        let c = config();
        let json = serde_json::to_value(matrix(&c, GroupBy::Runtime)).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"include": [
                {"name": "py", "args": "--runtime py", "suites": ["py-gc", "py-buffers"]},
                {"name": "rust", "args": "--runtime rust", "suites": ["rust-leak", "rust-canary", "rust-pressure"]},
            ]})
        );
        let by_tag = matrix(&c, GroupBy::Tag);
        let tags: Vec<&str> = by_tag.include.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(tags, ["canary", "fast", "long", "python", "rust"]);
        // Each entry's args select exactly its suites.
        for entry in by_tag.include {
            let filter = Filter {
                tags: vec![entry.name.clone()],
                ..Filter::default()
            };
            assert_eq!(names(&c, &filter), entry.suites, "{}", entry.args);
        }
    }
}
