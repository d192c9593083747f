//! Which leak sites grew between the last good and the first bad commit
//! (`bisect --sites`): each commit's suites run once in attribution mode
//! (`memtest explain`), and their sites are matched by suite, layer and the
//! function of the frame that names them. The function, not the whole
//! label: the commit that leaks moves the lines below it, and a site at
//! `cache_keep (lib.c:12)` is the one at `cache_keep (lib.c:9)`.

use crate::history::Commit;
use crate::model::site::GROWTH_NOISE_FLOOR_BYTES;
use crate::model::{Layer, Site, SiteSource};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One suite's sites at one commit, as its report kept them.
#[derive(Debug, Clone, PartialEq)]
pub struct SuiteSitesAt {
    pub suite: String,
    pub sites: Vec<Site>,
}

/// A site that grew, or is new, at the first bad commit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GrownSite {
    pub suite: String,
    pub layer: Layer,
    pub source: SiteSource,
    /// The naming frame's label at the first bad commit.
    pub name: String,
    /// Bytes (and blocks) at the last good commit: 0 for a new site.
    pub good_bytes: u64,
    pub good_blocks: u64,
    pub bad_bytes: u64,
    pub bad_blocks: u64,
    /// Not among the last good commit's sites.
    pub new: bool,
}

impl GrownSite {
    pub fn grown_bytes(&self) -> u64 {
        self.bad_bytes.saturating_sub(self.good_bytes)
    }
}

/// What `bisect --sites` found, in the bisection's log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SitesDiff {
    pub last_good: Commit,
    pub first_bad: Commit,
    /// The suites explained at both commits.
    pub suites: Vec<String>,
    /// Largest growth first.
    pub grown: Vec<GrownSite>,
    /// Why there is no comparison (a commit's attribution run failed);
    /// `grown` is then empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What matches a site across commits: its layer and its naming frame's
/// function (its label when the frame has no function, or the first
/// frame's when it was never named).
fn key(site: &Site) -> (Layer, String) {
    let named = site
        .frames
        .iter()
        .find(|f| site.name.as_deref() == Some(f.label().as_str()));
    let label = site
        .name
        .clone()
        .or_else(|| site.frames.first().map(|f| f.label()))
        .unwrap_or_else(|| "??".to_string());
    let id = named.and_then(|f| f.function.clone()).unwrap_or(label);
    (site.layer, id)
}

/// Bytes and blocks per key; a suite's sites of one function add up.
fn totals(sites: &[Site]) -> BTreeMap<(Layer, String), (u64, u64, &Site)> {
    let mut out: BTreeMap<(Layer, String), (u64, u64, &Site)> = BTreeMap::new();
    for s in sites {
        let e = out.entry(key(s)).or_insert((0, 0, s));
        e.0 += s.bytes;
        e.1 += s.blocks;
    }
    out
}

/// Whether growth from `good` to `bad` at a site of `source` is more than
/// noise: any block more from an exact source (a clean run has none),
/// [`GROWTH_NOISE_FLOOR_BYTES`] more from a snapshot of an interpreter.
fn grew(source: SiteSource, good: (u64, u64), bad: (u64, u64)) -> bool {
    if source.is_exact() {
        bad.0 > good.0 || bad.1 > good.1
    } else {
        bad.0 >= good.0 + GROWTH_NOISE_FLOOR_BYTES
    }
}

/// The sites that grew from `good` to `bad`, suite by suite, largest growth
/// first. A suite missing at either commit is compared with no sites.
pub fn grown(good: &[SuiteSitesAt], bad: &[SuiteSitesAt]) -> Vec<GrownSite> {
    let mut out = Vec::new();
    for b in bad {
        let before = good
            .iter()
            .find(|g| g.suite == b.suite)
            .map(|g| totals(&g.sites))
            .unwrap_or_default();
        for (k, (bytes, blocks, site)) in totals(&b.sites) {
            let (gb, gk) = before.get(&k).map_or((0, 0), |(b, k, _)| (*b, *k));
            if !grew(site.source, (gb, gk), (bytes, blocks)) {
                continue;
            }
            out.push(GrownSite {
                suite: b.suite.clone(),
                layer: site.layer,
                source: site.source,
                name: site.name.clone().unwrap_or_else(|| k.1.clone()),
                good_bytes: gb,
                good_blocks: gk,
                bad_bytes: bytes,
                bad_blocks: blocks,
                new: !before.contains_key(&k),
            });
        }
    }
    out.sort_by(|a, b| {
        b.grown_bytes()
            .cmp(&a.grown_bytes())
            .then_with(|| b.bad_blocks.cmp(&a.bad_blocks))
            .then_with(|| (&a.suite, &a.name).cmp(&(&b.suite, &b.name)))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Frame;

    fn site(source: SiteSource, func: &str, line: u32, bytes: u64, blocks: u64) -> Site {
        let frame = Frame {
            function: Some(func.into()),
            file: Some("lib.c".into()),
            line: Some(line),
            object: None,
        };
        Site {
            layer: Layer::Native,
            source,
            bytes,
            blocks,
            name: Some(frame.label()),
            frames: vec![
                Frame {
                    function: Some("malloc".into()),
                    ..Frame::default()
                },
                frame,
            ],
        }
    }

    fn at(suite: &str, sites: Vec<Site>) -> SuiteSitesAt {
        SuiteSitesAt {
            suite: suite.into(),
            sites,
        }
    }

    #[test]
    fn new_and_grown_sites_are_listed_largest_first_across_moved_lines() {
        use SiteSource::{Tracemalloc, Valgrind};
        let good = [at(
            "s",
            vec![
                site(Valgrind, "old_leak", 10, 100, 1),
                site(Valgrind, "steady", 20, 64, 1),
                site(Tracemalloc, "py_cache", 5, 10_000, 3),
            ],
        )];
        let bad = [
            at(
                "s",
                vec![
                    // The planted function is new; the old leak moved down
                    // a few lines and grew by one block.
                    site(Valgrind, "cache_keep", 12, 51_200_000, 200),
                    site(Valgrind, "old_leak", 14, 200, 2),
                    site(Valgrind, "steady", 24, 64, 1),
                    // Interpreter growth under the noise floor: not a site.
                    site(Tracemalloc, "py_cache", 5, 40_000, 9),
                ],
            ),
            at("t", vec![site(Valgrind, "only_bad_suite", 3, 32, 1)]),
        ];
        let g = grown(&good, &bad);
        let names: Vec<(&str, &str, bool, u64)> = g
            .iter()
            .map(|s| (s.suite.as_str(), s.name.as_str(), s.new, s.grown_bytes()))
            .collect();
        assert_eq!(
            names,
            [
                ("s", "cache_keep (lib.c:12)", true, 51_200_000),
                ("s", "old_leak (lib.c:14)", false, 100),
                ("t", "only_bad_suite (lib.c:3)", true, 32),
            ]
        );
        assert_eq!((g[1].good_blocks, g[1].bad_blocks), (1, 2));
        assert!(grown(&bad, &bad).is_empty(), "nothing grows against itself");
    }
}
