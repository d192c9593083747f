//! Leak or allocator? A pure function from a suite's attribution runs to
//! the [`Cause`] of its RSS growth and the figures that decided it.
//!
//! The runs: `plain` (the suite as it is, reporting its live and allocator
//! figures at each checkpoint) and the probes that ask the allocator to give
//! memory back (`malloc_trim(0)` at each checkpoint, `MALLOC_ARENA_MAX=2`,
//! jemalloc). RSS is read at the checkpoints (the helper's own reading, after
//! a trim where there is one), so growth here is the last checkpoint's RSS
//! minus the first's; the sampled growth stands in when a run reported no
//! RSS at its checkpoints. The rules, in order:
//!
//! 1. **no growth**: RSS grew less than [`GROWTH_FLOOR`] and no live figure
//!    grew.
//! 2. **cache plateau**: RSS grew, but less than [`PLATEAU_SHARE`] of that
//!    over the last third of the checkpoints, and live bytes stopped too.
//! 3. **leak**: a live figure (the library's exact count, malloc's in-use
//!    bytes, tracemalloc, V8's heap) grew by at least [`LIVE_SHARE`] of the
//!    RSS growth (and [`LIVE_FLOOR`]).
//! 4. **allocator retention**: live bytes known and flat, and the allocator
//!    gave memory back: `malloc_trim` returned at least [`RETURNED_SHARE`] of
//!    the growth at the last checkpoint, or a probe's RSS grew by at most
//!    `1 - RETURNED_SHARE` of the plain run's.
//! 5. otherwise **undecided**, with the figures that were weighed.

use crate::model::{Cause, Checkpoint, Diagnosis, Evidence, LiveSource, Probe};

/// RSS growth below this is no growth to explain.
pub const GROWTH_FLOOR: i64 = 1 << 20;
/// Live growth below this is noise (interpreters' own churn, a lazily made
/// buffer), whatever the RSS did.
pub const LIVE_FLOOR: i64 = 256 << 10;
/// Live bytes grew when they grew by at least this share of the RSS growth.
pub const LIVE_SHARE: f64 = 0.25;
/// A plateau: RSS grew by at most this share of its growth over the last
/// third of the checkpoints.
pub const PLATEAU_SHARE: f64 = 0.1;
/// Memory given back: a trim returned at least this share of the growth, or
/// a probe kept at most the rest of it.
pub const RETURNED_SHARE: f64 = 0.5;
/// Fewer checkpoints than this cannot show a plateau.
pub const PLATEAU_POINTS: usize = 6;

/// One attribution run of a suite.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    pub probe: Probe,
    pub checkpoints: Vec<Checkpoint>,
    /// The sampled RSS growth (memtest's own figure), for a run whose
    /// checkpoints carry no RSS.
    pub sampled_growth_bytes: i64,
}

impl Run {
    /// RSS at the last checkpoint minus the first.
    pub fn rss_growth(&self) -> i64 {
        growth(&self.checkpoints, |c| c.rss_bytes).unwrap_or(self.sampled_growth_bytes)
    }

    /// RSS growth over the last third of the checkpoints, when there are
    /// enough to tell.
    fn tail_growth(&self) -> Option<i64> {
        let n = self.checkpoints.len();
        if n < PLATEAU_POINTS {
            return None;
        }
        growth(&self.checkpoints[n - n / 3 - 1..], |c| c.rss_bytes)
    }

    /// What malloc_trim gave back at the last checkpoint.
    fn trimmed(&self) -> Option<u64> {
        self.checkpoints.last()?.malloc_trimmed_bytes
    }
}

/// Last minus first of a figure over the checkpoints that report it.
fn growth(checkpoints: &[Checkpoint], figure: impl Fn(&Checkpoint) -> Option<u64>) -> Option<i64> {
    // Two readings at least: one is no growth.
    checkpoints.iter().filter_map(&figure).nth(1)?;
    let first = checkpoints.iter().find_map(&figure)?;
    let last = checkpoints.iter().rev().find_map(&figure)?;
    Some(last as i64 - first as i64)
}

/// The growth of live bytes over `checkpoints`: the largest growth of the
/// live figures they report (`None` when they report none). What the
/// `live_growth` limit judges.
pub fn live_growth(checkpoints: &[Checkpoint]) -> Option<i64> {
    SOURCES
        .iter()
        .filter_map(|&s| growth(checkpoints, |c| c.live(s)))
        .max()
}

const SOURCES: [LiveSource; 4] = [
    LiveSource::NativeCount,
    LiveSource::MallocInUse,
    LiveSource::Tracemalloc,
    LiveSource::V8Heap,
];

/// Each live figure's growth over the plain run, largest first, and
/// over its last third; the library's exact count at the end
/// (`native_leaked_bytes`, end minus baseline) stands in for its
/// checkpoint records where it printed none.
fn live_growths(plain: &Run, native_leaked_bytes: Option<u64>) -> Vec<(LiveSource, i64, i64)> {
    let n = plain.checkpoints.len();
    let tail = &plain.checkpoints[n.saturating_sub(n / 3 + 1)..];
    let mut out: Vec<(LiveSource, i64, i64)> = SOURCES
        .iter()
        .filter_map(|&s| {
            let whole = growth(&plain.checkpoints, |c| c.live(s))?;
            Some((s, whole, growth(tail, |c| c.live(s)).unwrap_or(whole)))
        })
        .collect();
    let counted = out.iter().any(|l| l.0 == LiveSource::NativeCount);
    if let (Some(b), false) = (native_leaked_bytes, counted) {
        out.push((LiveSource::NativeCount, b as i64, b as i64));
    }
    out.sort_by_key(|&(s, g, _)| (std::cmp::Reverse(g), s));
    out
}

/// The cause of the plain run's RSS growth, weighing the probes.
pub fn diagnose(plain: &Run, native_leaked_bytes: Option<u64>, probes: &[Run]) -> Diagnosis {
    let rss = plain.rss_growth();
    let rss_evidence = Evidence::RssGrowth {
        probe: Probe::Plain,
        growth_bytes: rss,
    };
    let lives = live_growths(plain, native_leaked_bytes);
    let top = lives
        .first()
        .map(|&(source, growth_bytes, _)| Evidence::LiveGrowth {
            source,
            growth_bytes,
        });
    let live_growth = lives.first().map_or(0, |l| l.1);
    let live_grew = live_growth >= LIVE_FLOOR.max((LIVE_SHARE * rss as f64) as i64);
    let other = other_evidence(plain, &lives, probes);
    let done = |cause: Cause, deciding: Vec<Evidence>| Diagnosis {
        cause,
        other: other
            .iter()
            .filter(|e| !deciding.contains(e))
            .copied()
            .collect(),
        deciding,
    };
    let with_live = |mut v: Vec<Evidence>| {
        v.extend(top);
        v
    };
    if rss < GROWTH_FLOOR && live_growth < LIVE_FLOOR {
        return done(Cause::NoGrowth, with_live(vec![rss_evidence]));
    }
    if let Some(tail) = plain.tail_growth() {
        let live_tail = lives.iter().map(|l| l.2).max().unwrap_or(0);
        let live_stopped = live_tail <= LIVE_FLOOR.max((PLATEAU_SHARE * live_growth as f64) as i64);
        if rss >= GROWTH_FLOOR && (tail as f64) <= PLATEAU_SHARE * rss as f64 && live_stopped {
            let tail = Evidence::TailGrowth { growth_bytes: tail };
            return done(Cause::CachePlateau, vec![rss_evidence, tail]);
        }
    }
    if live_grew {
        let mut deciding: Vec<Evidence> = top.into_iter().collect();
        deciding.push(rss_evidence);
        return done(Cause::Leak, deciding);
    }
    if top.is_some() {
        if let Some(returned) = given_back(rss, probes) {
            let mut deciding = with_live(vec![returned]);
            deciding.push(rss_evidence);
            return done(Cause::AllocatorRetention, deciding);
        }
    }
    done(Cause::Undecided, with_live(vec![rss_evidence]))
}

/// The figure showing the allocator gave the growth back, if one does: the
/// trim run's last trim, else the probe that kept least.
fn given_back(rss: i64, probes: &[Run]) -> Option<Evidence> {
    let trimmed = probes.iter().filter_map(Run::trimmed).max();
    if let Some(bytes) = trimmed.filter(|&b| b as f64 >= RETURNED_SHARE * rss as f64) {
        return Some(Evidence::Trimmed { bytes });
    }
    probes
        .iter()
        .map(|p| (p.probe, p.rss_growth()))
        .filter(|&(_, g)| (g as f64) <= (1.0 - RETURNED_SHARE) * rss as f64)
        .min_by_key(|&(_, g)| g)
        .map(|(probe, growth_bytes)| Evidence::RssGrowth {
            probe,
            growth_bytes,
        })
}

/// Every figure gathered, for the reports: each live growth, the free
/// bytes malloc held at the end, smaps' growth by kind, each probe's growth
/// and its last trim.
fn other_evidence(plain: &Run, lives: &[(LiveSource, i64, i64)], probes: &[Run]) -> Vec<Evidence> {
    let mut out: Vec<Evidence> = lives
        .iter()
        .map(|&(source, growth_bytes, _)| Evidence::LiveGrowth {
            source,
            growth_bytes,
        })
        .collect();
    if let Some(bytes) = plain.checkpoints.last().and_then(|c| c.malloc_free_bytes) {
        out.push(Evidence::FreeHeld { bytes });
    }
    let smaps: Vec<_> = plain.checkpoints.iter().filter_map(|c| c.smaps).collect();
    if let (Some(a), Some(b)) = (smaps.first(), smaps.last()) {
        let d = |x: u64, y: u64| y as i64 - x as i64;
        out.push(Evidence::SmapsGrowth {
            heap_bytes: d(a.heap_bytes, b.heap_bytes),
            anon_bytes: d(a.anon_bytes, b.anon_bytes),
            file_bytes: d(a.file_bytes, b.file_bytes),
        });
    }
    for p in probes {
        out.push(Evidence::RssGrowth {
            probe: p.probe,
            growth_bytes: p.rss_growth(),
        });
        if let Some(bytes) = p.trimmed() {
            out.push(Evidence::Trimmed { bytes });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const MB: u64 = 1_000_000;

    /// A run whose checkpoints' RSS and malloc in-use bytes follow `rss` and
    /// `live` (MB), with `trimmed` (MB) at the last one.
    fn run(probe: Probe, rss: &[u64], live: &[u64], trimmed: Option<u64>) -> Run {
        let mut checkpoints: Vec<Checkpoint> = rss
            .iter()
            .enumerate()
            .map(|(i, &r)| Checkpoint {
                t_ms: i as u64 * 100,
                x: i as f64,
                rss_bytes: Some(r * MB),
                malloc_in_use_bytes: live.get(i).map(|l| l * MB),
                ..Checkpoint::default()
            })
            .collect();
        if let Some(last) = checkpoints.last_mut() {
            last.malloc_trimmed_bytes = trimmed.map(|t| t * MB);
        }
        Run {
            probe,
            checkpoints,
            sampled_growth_bytes: 0,
        }
    }

    const GROWING: &[u64] = &[10, 14, 18, 22, 26, 30, 34, 38, 42];
    const FLAT: &[u64] = &[5, 5, 5, 5, 5, 5, 5, 5, 5];
    const PLATEAU: &[u64] = &[10, 20, 30, 40, 41, 41, 41, 41, 41];
    const TRIMMED_FLAT: &[u64] = &[10, 10, 11, 10, 11, 10, 11, 10, 11];

    #[test]
    fn causes_and_their_deciding_figures() {
        let growing_live: &[u64] = &[5, 9, 13, 17, 21, 25, 29, 33, 37];
        struct Case {
            name: &'static str,
            plain: Run,
            native: Option<u64>,
            probes: Vec<Run>,
            cause: Cause,
            deciding: &'static str,
        }
        let cases = [
            Case {
                name: "live bytes grow with RSS",
                plain: run(Probe::Plain, GROWING, growing_live, None),
                native: None,
                probes: vec![run(Probe::MallocTrim, GROWING, growing_live, Some(0))],
                cause: Cause::Leak,
                deciding: "leak: live bytes +32.0 MB (malloc in use), RSS +32.0 MB",
            },
            Case {
                name: "the library's exact count grew, malloc's figures absent",
                plain: run(Probe::Plain, GROWING, &[], None),
                native: Some(20 * MB),
                probes: vec![],
                cause: Cause::Leak,
                deciding: "leak: live bytes +20.0 MB (the library's count), RSS +32.0 MB",
            },
            Case {
                name: "live flat, malloc_trim returned the growth",
                plain: run(Probe::Plain, GROWING, FLAT, None),
                native: None,
                probes: vec![run(Probe::MallocTrim, TRIMMED_FLAT, FLAT, Some(30))],
                cause: Cause::AllocatorRetention,
                deciding: "allocator retention: malloc_trim returned 30.0 MB, \
                           live bytes 0 B (malloc in use), RSS +32.0 MB",
            },
            Case {
                name: "live flat, trim returned little, but jemalloc kept RSS flat",
                plain: run(Probe::Plain, GROWING, FLAT, None),
                native: None,
                probes: vec![
                    run(Probe::MallocTrim, GROWING, FLAT, Some(1)),
                    run(Probe::Jemalloc, TRIMMED_FLAT, FLAT, None),
                ],
                cause: Cause::AllocatorRetention,
                deciding: "allocator retention: RSS +1.0 MB under jemalloc, \
                           live bytes 0 B (malloc in use), RSS +32.0 MB",
            },
            Case {
                name: "live flat, nothing given back",
                plain: run(Probe::Plain, GROWING, FLAT, None),
                native: None,
                probes: vec![run(Probe::MallocTrim, GROWING, FLAT, Some(0))],
                cause: Cause::Undecided,
                deciding: "undecided: RSS +32.0 MB, live bytes 0 B (malloc in use)",
            },
            Case {
                name: "no live figure at all cannot be called retention",
                plain: run(Probe::Plain, GROWING, &[], None),
                native: None,
                probes: vec![run(Probe::ArenaMax2, TRIMMED_FLAT, &[], None)],
                cause: Cause::Undecided,
                deciding: "undecided: RSS +32.0 MB",
            },
            Case {
                name: "grows, then flat over the last third",
                plain: run(Probe::Plain, PLATEAU, PLATEAU, None),
                native: None,
                probes: vec![],
                cause: Cause::CachePlateau,
                deciding: "cache plateau: RSS +31.0 MB, RSS 0 B over the last third",
            },
            Case {
                name: "RSS flat, live flat",
                plain: run(Probe::Plain, TRIMMED_FLAT, FLAT, None),
                native: None,
                probes: vec![],
                cause: Cause::NoGrowth,
                deciding: "no growth: RSS +1.0 MB, live bytes 0 B (malloc in use)",
            },
            Case {
                name: "a small exact leak RSS does not show is still a leak",
                plain: run(Probe::Plain, FLAT, FLAT, None),
                native: Some(2 * MB),
                probes: vec![],
                cause: Cause::Leak,
                deciding: "leak: live bytes +2.0 MB (the library's count), RSS 0 B",
            },
        ];
        for c in cases {
            let d = diagnose(&c.plain, c.native, &c.probes);
            assert_eq!(d.cause, c.cause, "{}: {d}", c.name);
            let want: String = c.deciding.split_whitespace().collect::<Vec<_>>().join(" ");
            assert_eq!(d.to_string(), want, "{}", c.name);
        }
    }

    #[test]
    fn a_leak_that_keeps_growing_is_not_a_plateau_even_when_rss_stops() {
        // The allocator filled old holes (RSS flat at the end), but live
        // bytes still grow over the last third: a leak.
        let live: &[u64] = &[1, 5, 9, 13, 17, 21, 25, 29, 33];
        let d = diagnose(&run(Probe::Plain, PLATEAU, live, None), None, &[]);
        assert_eq!(d.cause, Cause::Leak, "{d}");
    }

    #[test]
    fn the_librarys_count_at_checkpoints_decides_before_its_end_figure() {
        let mut plain = run(Probe::Plain, GROWING, FLAT, None);
        for (i, c) in plain.checkpoints.iter_mut().enumerate() {
            c.native_live_bytes = Some(i as u64 * 3 * MB);
        }
        let d = diagnose(&plain, Some(MB), &[]);
        assert_eq!(
            d.to_string(),
            "leak: live bytes +24.0 MB (the library's count), RSS +32.0 MB"
        );
        let natives = d
            .other
            .iter()
            .filter(|e| {
                matches!(
                    e,
                    Evidence::LiveGrowth {
                        source: LiveSource::NativeCount,
                        ..
                    }
                )
            })
            .count();
        assert_eq!(natives, 0, "one native figure, deciding: {:?}", d.other);
    }

    #[test]
    fn every_figure_gathered_is_kept_beside_the_deciding_ones() {
        let mut plain = run(Probe::Plain, GROWING, FLAT, None);
        plain.checkpoints.last_mut().unwrap().malloc_free_bytes = Some(29 * MB);
        let probes = [
            run(Probe::MallocTrim, TRIMMED_FLAT, FLAT, Some(30)),
            run(Probe::ArenaMax2, GROWING, FLAT, None),
        ];
        let d = diagnose(&plain, None, &probes);
        assert_eq!(d.cause, Cause::AllocatorRetention);
        assert!(d.other.contains(&Evidence::FreeHeld { bytes: 29 * MB }));
        assert!(d.other.contains(&Evidence::RssGrowth {
            probe: Probe::ArenaMax2,
            growth_bytes: 32 * MB as i64
        }));
        assert!(
            !d.other.contains(&Evidence::Trimmed { bytes: 30 * MB }),
            "a deciding figure is not repeated"
        );
    }
}
