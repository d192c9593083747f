//! Which suite may start now: a pure rule over what is running, so it is
//! tested without processes. A suite asks for its `threads` (nextest's
//! threads-required) out of the run's slots and reserves its memory ceiling
//! (`peak_rss`: memtest stops a suite the moment its tree passes it, so it
//! is a real bound) out of the memory that was free when the run began. An
//! `exclusive` suite runs alone. A suite that could never fit still runs,
//! alone, rather than never.

use crate::model::Job;

/// What the run may use at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Threads of suites at once (`--jobs`).
    pub slots: u32,
    /// Memory the running suites' ceilings may add up to; `None`: unknown,
    /// not limited.
    pub memory_bytes: Option<u64>,
}

/// What one suite takes while it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Demand {
    pub threads: u32,
    pub memory_bytes: u64,
    pub exclusive: bool,
}

impl Demand {
    pub fn of(job: &Job) -> Demand {
        Demand {
            threads: job.threads.max(1),
            memory_bytes: job.limits.peak_rss.map_or(0, |b| b.0),
            exclusive: job.exclusive,
        }
    }
}

/// Whether `next` may start beside `running`.
pub fn fits(budget: Budget, running: &[Demand], next: Demand) -> bool {
    if running.is_empty() {
        return true;
    }
    if next.exclusive || running.iter().any(|d| d.exclusive) {
        return false;
    }
    let slots = budget.slots.max(1);
    let threads: u32 = running.iter().map(|d| d.threads.min(slots)).sum();
    if threads + next.threads.min(slots) > slots {
        return false;
    }
    match budget.memory_bytes {
        Some(limit) => {
            let reserved: u64 = running.iter().map(|d| d.memory_bytes).sum();
            reserved.saturating_add(next.memory_bytes) <= limit
        }
        None => true,
    }
}

/// Longest first: by the last run's duration where known (milliseconds by
/// suite), else by the suite's timeout, so the long suites start at once and
/// the short ones fill the gaps. Stable for ties (file order).
pub fn longest_first(jobs: &mut [Job], last_ms: &std::collections::BTreeMap<String, u64>) {
    // Known durations rank above unknown ones of the same size: a timeout is
    // only an upper bound.
    jobs.sort_by_key(|j| {
        let (known, ms) = match last_ms.get(&j.suite) {
            Some(ms) => (1, *ms),
            None => (0, j.timeout.as_millis() as u64),
        };
        std::cmp::Reverse((ms, known))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    const MB: u64 = 1_000_000;

    fn d(threads: u32, memory_mb: u64, exclusive: bool) -> Demand {
        Demand {
            threads,
            memory_bytes: memory_mb * MB,
            exclusive,
        }
    }

    #[test]
    fn slots_memory_and_exclusivity() {
        let budget = Budget {
            slots: 2,
            memory_bytes: Some(1000 * MB),
        };
        let one = d(1, 100, false);
        assert!(fits(budget, &[], one));
        assert!(fits(budget, &[one], one), "two slots");
        assert!(!fits(budget, &[one, one], one), "slots full");
        assert!(!fits(budget, &[one], d(2, 100, false)), "needs both slots");
        assert!(
            fits(budget, &[], d(8, 100, false)),
            "more threads than slots still runs, alone"
        );
        assert!(
            !fits(budget, &[d(1, 600, false)], d(1, 600, false)),
            "memory"
        );
        assert!(fits(budget, &[d(1, 400, false)], d(1, 600, false)));
        assert!(fits(budget, &[], d(1, 5000, false)), "too big: alone");
        assert!(!fits(budget, &[one], d(1, 10, true)), "exclusive waits");
        assert!(!fits(budget, &[d(1, 10, true)], one), "and runs alone");
        let unknown = Budget {
            slots: 4,
            memory_bytes: None,
        };
        assert!(fits(unknown, &[d(1, 900_000, false)], d(1, 900_000, false)));
    }

    #[test]
    fn longest_first_uses_history_then_timeouts() {
        use std::time::Duration;
        let job = |name: &str, timeout_s: u64| Job {
            suite: name.into(),
            timeout: Duration::from_secs(timeout_s),
            ..crate::model::Job::example()
        };
        let mut jobs = vec![job("a", 120), job("b", 2400), job("c", 120), job("d", 60)];
        let history =
            std::collections::BTreeMap::from([("c".to_string(), 90_000), ("b".into(), 30_000)]);
        longest_first(&mut jobs, &history);
        let order: Vec<&str> = jobs.iter().map(|j| j.suite.as_str()).collect();
        assert_eq!(order, ["a", "c", "d", "b"]);
    }
}
