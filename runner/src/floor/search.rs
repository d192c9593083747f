//! The search for the smallest leak a suite catches, as a pure state machine
//! over sizes: [`Search::next`] says which size to probe, [`Search::record`]
//! takes whether it was caught. It knows nothing of suites or processes, so
//! the app can run the probes of many suites side by side, and the tests
//! below drive it with a synthetic threshold.
//!
//! From `start`, the size is multiplied by `step` until a probe is caught
//! (or divided by it while probes are caught, down to `min`); the last miss
//! and the first catch then bracket the floor, and geometric bisection
//! narrows the bracket until the caught size is at most `precision` times
//! the missed one. Probes are bounded: the expansion by log_step(max/min)+1,
//! the bisection by log2(log2(step)/log2(precision))+1.

/// How a search proceeds; sizes in bytes per call.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SearchOptions {
    /// The first size probed.
    pub start: u64,
    /// The smallest size: caught there, the floor is "at most `min`".
    pub min: u64,
    /// The largest size: missed there, the suite is blind below it.
    pub max: u64,
    /// The factor between sizes while the bracket is being found (> 1).
    pub step: f64,
    /// The bracket's width at the end: caught / missed <= precision (> 1).
    pub precision: f64,
}

impl Default for SearchOptions {
    fn default() -> Self {
        SearchOptions {
            start: 1,
            min: 1,
            max: 1 << 30,
            step: 8.0,
            precision: 2.0,
        }
    }
}

/// Where a finished search ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    /// `caught` was caught and `missed` was not (`None`: `caught` is the
    /// smallest size there is to probe, so the floor is at most that).
    Floor { caught: u64, missed: Option<u64> },
    /// Not even `max` was caught.
    Blind { missed: u64 },
}

/// One search in progress.
#[derive(Debug, Clone)]
pub struct Search {
    opts: SearchOptions,
    /// Largest size probed and missed.
    missed: Option<u64>,
    /// Smallest size probed and caught.
    caught: Option<u64>,
    pending: Option<u64>,
    probes: u32,
    done: Option<Found>,
}

impl Search {
    /// A search with `opts`, its sizes clamped so that min <= start <= max.
    pub fn new(opts: SearchOptions) -> Search {
        let min = opts.min.max(1);
        let max = opts.max.max(min);
        let opts = SearchOptions {
            min,
            max,
            start: opts.start.clamp(min, max),
            step: if opts.step > 1.0 { opts.step } else { 2.0 },
            precision: if opts.precision > 1.0 {
                opts.precision
            } else {
                2.0
            },
        };
        let mut search = Search {
            opts,
            missed: None,
            caught: None,
            pending: None,
            probes: 0,
            done: None,
        };
        search.pending = Some(opts.start);
        search
    }

    /// The size to probe next; `None` once the search is over.
    pub fn next(&self) -> Option<u64> {
        self.pending
    }

    /// The result of probing `size` (which must be what `next` said).
    pub fn record(&mut self, size: u64, caught: bool) {
        debug_assert_eq!(Some(size), self.pending, "a size the search asked for");
        self.probes += 1;
        if caught {
            self.caught = Some(self.caught.map_or(size, |c| c.min(size)));
        } else {
            self.missed = Some(self.missed.map_or(size, |m| m.max(size)));
        }
        self.pending = self.choose();
        if self.pending.is_none() {
            self.done = Some(match (self.caught, self.missed) {
                (Some(caught), missed) => Found::Floor { caught, missed },
                (None, missed) => Found::Blind {
                    missed: missed.unwrap_or(self.opts.max),
                },
            });
        }
    }

    fn choose(&self) -> Option<u64> {
        let o = &self.opts;
        match (self.missed, self.caught) {
            // Still climbing: nothing caught yet.
            (Some(missed), None) if missed >= o.max => None,
            (Some(missed), None) => Some(scaled(missed, o.step).clamp(missed + 1, o.max)),
            // Still descending: nothing missed yet.
            (None, Some(caught)) if caught <= o.min => None,
            (None, Some(caught)) => Some(scaled(caught, 1.0 / o.step).clamp(o.min, caught - 1)),
            (Some(missed), Some(caught)) => {
                if caught as f64 <= missed as f64 * o.precision || caught <= missed + 1 {
                    return None;
                }
                let mid = ((missed as f64) * (caught as f64)).sqrt().round() as u64;
                Some(mid.clamp(missed + 1, caught - 1))
            }
            (None, None) => Some(o.start),
        }
    }

    /// The result, once [`Search::next`] is `None`.
    pub fn found(&self) -> Option<Found> {
        self.done
    }

    /// Sizes probed so far.
    pub fn probes(&self) -> u32 {
        self.probes
    }

    /// The most probes a search with `opts` can take.
    pub fn max_probes(opts: &SearchOptions) -> u32 {
        let o = Search::new(*opts).opts;
        let span = (o.max as f64 / o.min as f64).max(1.0);
        let expand = (span.ln() / o.step.ln()).ceil() as u32 + 1;
        // Each bisection halves the bracket's log-width, from log(step).
        let halvings = (o.step.ln() / o.precision.ln()).log2().ceil().max(0.0) as u32;
        expand + halvings + 1
    }
}

fn scaled(size: u64, factor: f64) -> u64 {
    (size as f64 * factor).round().clamp(1.0, u64::MAX as f64) as u64
}

/// Runs a search to its end with `caught` as the oracle.
pub fn search(opts: SearchOptions, mut caught: impl FnMut(u64) -> bool) -> (Found, u32) {
    let mut s = Search::new(opts);
    while let Some(size) = s.next() {
        let c = caught(size);
        s.record(size, c);
    }
    (
        s.found().expect("a finished search has a result"),
        s.probes(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A synthetic criterion: a leak of `threshold` bytes or more is caught.
    fn at_least(threshold: u64) -> impl FnMut(u64) -> bool {
        move |size| size >= threshold
    }

    #[test]
    fn finds_every_threshold_within_the_precision_and_the_probe_bound() {
        for opts in [
            SearchOptions::default(),
            SearchOptions {
                step: 2.0,
                ..SearchOptions::default()
            },
            SearchOptions {
                start: 4096,
                step: 16.0,
                ..SearchOptions::default()
            },
            SearchOptions {
                start: 100,
                min: 10,
                max: 1_000_000,
                step: 3.0,
                precision: 1.5,
            },
        ] {
            let bound = Search::max_probes(&opts);
            for threshold in (0..40).map(|i| 1u64 << (i % 31)).chain([3, 7, 777, 12_345]) {
                let threshold = threshold.clamp(opts.min, opts.max);
                let (found, probes) = search(opts, at_least(threshold));
                assert!(probes <= bound, "{opts:?} {threshold}: {probes} > {bound}");
                match found {
                    Found::Floor { caught, missed } => {
                        assert!(caught >= threshold, "{opts:?}: {caught} < {threshold}");
                        match missed {
                            Some(m) => {
                                assert!(m < threshold, "{m} was missed, yet >= {threshold}");
                                let ratio = caught as f64 / m as f64;
                                assert!(
                                    ratio <= opts.precision || caught == m + 1,
                                    "{opts:?} {threshold}: {m}..{caught}"
                                );
                            }
                            None => assert_eq!(caught, opts.min.max(1)),
                        }
                        assert!(caught as f64 <= threshold as f64 * opts.precision);
                    }
                    Found::Blind { .. } => panic!("{threshold} is within [min, max]"),
                }
            }
        }
    }

    #[test]
    fn a_suite_that_catches_everything_has_the_minimum_as_its_floor() {
        let (found, probes) = search(SearchOptions::default(), |_| true);
        assert_eq!(
            found,
            Found::Floor {
                caught: 1,
                missed: None
            }
        );
        assert_eq!(probes, 1, "started at the minimum");
        let from_4k = SearchOptions {
            start: 4096,
            ..SearchOptions::default()
        };
        let (found, probes) = search(from_4k, |_| true);
        assert_eq!(
            found,
            Found::Floor {
                caught: 1,
                missed: None
            }
        );
        assert_eq!(probes, 5, "4096, 512, 64, 8, 1");
    }

    #[test]
    fn a_blind_suite_is_searched_up_to_the_maximum_and_no_further() {
        let mut sizes = Vec::new();
        let opts = SearchOptions {
            max: 1 << 20,
            ..SearchOptions::default()
        };
        let (found, _) = search(opts, |s| {
            sizes.push(s);
            false
        });
        assert_eq!(found, Found::Blind { missed: 1 << 20 });
        assert_eq!(sizes.last(), Some(&(1 << 20)));
        assert!(sizes.windows(2).all(|w| w[0] < w[1]), "{sizes:?}");
        assert_eq!(sizes.len() as u32, 8, "1, 8, ..., 2^18, then 2^20");
    }

    #[test]
    fn a_noisy_oracle_still_ends_within_the_bound() {
        // Caught or not by a fixed pseudo-random pattern, not by size: the
        // search must still end, within its bound.
        let opts = SearchOptions::default();
        let mut state = 0x2545_f491_u64;
        let (_, probes) = search(opts, |_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state.is_multiple_of(2)
        });
        assert!(probes <= Search::max_probes(&opts));
    }
}
