//! A series that stays bounded however long a suite runs: a soak by
//! duration samples for hours (24 h at 10 ms is 8.6 million samples, 280 MB
//! in memory and far more as JSON), so the samples and progress points the
//! executor keeps are downsampled as they age. The newest [`Bounded::recent`]
//! points stay at full resolution; older ones go to a second buffer, and
//! when that passes its cap every run of four of its points is reduced to
//! the one with the lowest rank and the one with the highest (RSS for
//! samples, in time order), halving it. The highest point of every four
//! survives each halving, so the run's peak is never lost, nor its lowest
//! point; the growth and slope computed over the series see the same
//! envelope at a coarser step. A suite of ordinary length never reaches the
//! caps and keeps every point.

use std::collections::VecDeque;

/// Points kept at full resolution, newest last.
pub const SAMPLES_RECENT: usize = 15_000;
/// Older points kept, downsampled: at most this many.
pub const SAMPLES_OLD: usize = 15_000;
/// The same for progress points (`MEMTEST progress=N` lines).
pub const PROGRESS_RECENT: usize = 5_000;
pub const PROGRESS_OLD: usize = 5_000;

/// A time-ordered series of at most `recent + old` points (see the module
/// doc for which points are kept).
#[derive(Debug, Clone)]
pub struct Bounded<T> {
    old: Vec<T>,
    recent: VecDeque<T>,
    recent_cap: usize,
    old_cap: usize,
    /// What min/max selection compares: RSS bytes, an operation count.
    rank: fn(&T) -> u64,
}

impl<T: Copy> Bounded<T> {
    /// `recent_cap` points at full resolution, at most `old_cap` older ones
    /// (at least 4, the run of points a halving reduces to two).
    pub fn new(recent_cap: usize, old_cap: usize, rank: fn(&T) -> u64) -> Bounded<T> {
        Bounded {
            old: Vec::new(),
            recent: VecDeque::new(),
            recent_cap: recent_cap.max(1),
            old_cap: old_cap.max(4),
            rank,
        }
    }

    pub fn push(&mut self, point: T) {
        self.recent.push_back(point);
        if self.recent.len() > self.recent_cap {
            let aged = self.recent.pop_front().expect("over the cap, so not empty");
            self.old.push(aged);
            if self.old.len() > self.old_cap {
                self.halve_old();
            }
        }
    }

    /// Points held now.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.old.len() + self.recent.len()
    }

    /// Every run of four old points becomes its lowest and its highest, in
    /// the order they came.
    fn halve_old(&mut self) {
        let rank = self.rank;
        let mut kept = Vec::with_capacity(self.old.len() / 2 + 2);
        for run in self.old.chunks(4) {
            let lo = (0..run.len()).min_by_key(|&i| rank(&run[i])).unwrap_or(0);
            let hi = (0..run.len()).max_by_key(|&i| rank(&run[i])).unwrap_or(0);
            let (first, second) = (lo.min(hi), lo.max(hi));
            kept.push(run[first]);
            if second != first {
                kept.push(run[second]);
            }
        }
        self.old = kept;
    }

    /// The series, oldest first.
    pub fn into_vec(self) -> Vec<T> {
        let mut out = self.old;
        out.extend(self.recent);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Sample;

    fn sample(t_ms: u64, rss_bytes: u64) -> Sample {
        Sample {
            t_ms,
            rss_bytes,
            vms_bytes: rss_bytes * 2,
            processes: 1,
        }
    }

    #[test]
    fn a_day_of_samples_stays_bounded_and_keeps_its_peak_and_its_end() {
        let mut series = Bounded::new(SAMPLES_RECENT, SAMPLES_OLD, |s: &Sample| s.rss_bytes);
        // 24 h at 10 ms would be 8.64 M samples; a million shows the bound
        // (every point past the caps goes through the same halving).
        let n: u64 = 1_000_000;
        let peak_at = 123_457;
        let mut most = 0;
        for i in 0..n {
            // A sawtooth around a slow rise, and one spike early in the run.
            let rss = if i == peak_at {
                900_000_000
            } else {
                100_000_000 + i * 10 + (i % 7) * 1_000
            };
            series.push(sample(i * 10, rss));
            most = most.max(series.len());
        }
        assert!(
            most <= SAMPLES_RECENT + SAMPLES_OLD,
            "held {most} samples at once"
        );
        let kept = series.into_vec();
        assert!(kept.len() <= SAMPLES_RECENT + SAMPLES_OLD);
        assert!(kept.len() > SAMPLES_RECENT, "the old part is kept too");
        // The peak survived every halving, at its own time.
        let peak = kept.iter().max_by_key(|s| s.rss_bytes).unwrap();
        assert_eq!((peak.t_ms, peak.rss_bytes), (peak_at * 10, 900_000_000));
        // Time order, the first sample and the recent window at full
        // resolution, up to the last sample.
        assert!(kept.windows(2).all(|w| w[0].t_ms < w[1].t_ms));
        assert_eq!(kept[0].t_ms, 0);
        let tail = &kept[kept.len() - SAMPLES_RECENT..];
        assert!(tail.windows(2).all(|w| w[1].t_ms - w[0].t_ms == 10));
        assert_eq!(kept.last().unwrap().t_ms, (n - 1) * 10);
    }

    #[test]
    fn a_short_series_is_kept_whole() {
        let mut series = Bounded::new(10, 8, |s: &Sample| s.rss_bytes);
        for i in 0..18 {
            series.push(sample(i, i));
        }
        let kept = series.into_vec();
        assert_eq!(kept.len(), 18);
        assert!(kept.iter().enumerate().all(|(i, s)| s.t_ms == i as u64));
    }

    #[test]
    fn a_halving_keeps_the_lowest_and_highest_of_every_four_in_order() {
        let mut series = Bounded::new(1, 4, |s: &Sample| s.rss_bytes);
        // Old gets 5 points (> 4): halved to [min, max] of the first four
        // (in time order), and the fifth alone.
        for (t, rss) in [(0, 5), (1, 9), (2, 1), (3, 4), (4, 7), (5, 3)] {
            series.push(sample(t, rss));
        }
        let kept: Vec<(u64, u64)> = series
            .into_vec()
            .iter()
            .map(|s| (s.t_ms, s.rss_bytes))
            .collect();
        assert_eq!(kept, [(1, 9), (2, 1), (4, 7), (5, 3)]);
    }
}
