//! What a canary is judged on under a wrapper. A wrapper clears the RSS
//! limits (the tool's own memory dominates them), so a canary whose
//! `catches` lists only such criteria could never be caught there: it would
//! be a `FAIL`, "not on what it exists to catch", though the tool found its
//! leak. Such a canary is judged by the wrapper's findings instead.

use crate::model::{Criterion, Job, Limits};

/// Whether `criterion` is judged under `limits`: `Some(false)` for a
/// limit that is not set (cleared by the wrapper, or never set), `None` for
/// criteria with no limit in the table (how the suite ended, the tool's
/// findings).
fn limit_set(criterion: Criterion, limits: &Limits) -> Option<bool> {
    let spec = criterion.spec().limit.as_ref()?;
    Some((spec.get)(limits).is_some())
}

/// The criteria `job`'s canary rule counts: its `catches`, plus the
/// wrapper's findings when it runs under a wrapper and every criterion it
/// catches has its limit cleared.
pub fn catches(job: &Job) -> Vec<Criterion> {
    let mut catches = job.catches.clone();
    let all_cleared = !catches.is_empty()
        && catches
            .iter()
            .all(|c| limit_set(*c, &job.limits) == Some(false));
    if job.wrapper.is_some() && all_cleared {
        catches.push(Criterion::Wrapper);
    }
    catches
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Expect, Failure, FindingsKind, Verdict, WrapperRun};
    use crate::verdict::apply_expectation;

    fn wrapped(catches: Vec<Criterion>) -> Job {
        let mut job = Job::example();
        job.expect = Expect::Fail;
        job.catches = catches;
        // As the resolver leaves a wrapped suite's limits: RSS cleared.
        job.limits.rss_growth = None;
        job.limits.slope = None;
        job.wrapper = Some(WrapperRun {
            name: "memcheck".into(),
            findings: FindingsKind::ValgrindXml,
            output_path: "x.xml".into(),
        });
        job
    }

    #[test]
    fn a_canary_of_cleared_criteria_is_caught_by_the_wrappers_findings() {
        let job = wrapped(vec![Criterion::RssGrowth, Criterion::Slope]);
        let found = Failure::Wrapper {
            tool: "valgrind".into(),
            summary: "1 definitely lost (51200 bytes)".into(),
        };
        let verdict = apply_expectation(job.expect, &catches(&job), vec![found]);
        assert!(
            matches!(verdict, Verdict::CanaryCaught { .. }),
            "{verdict:?}"
        );
        // Found nothing: still missed.
        assert_eq!(
            apply_expectation(job.expect, &catches(&job), vec![]),
            Verdict::CanaryMissed
        );
    }

    #[test]
    fn a_canary_with_a_criterion_still_judged_keeps_its_catches() {
        // native_leaks is judged under a wrapper: the canary must trip it.
        let job = wrapped(vec![Criterion::RssGrowth, Criterion::NativeLeaks]);
        assert_eq!(catches(&job), job.catches);
        // Unwrapped, nothing changes either, cleared limits or not.
        let mut plain = wrapped(vec![Criterion::RssGrowth]);
        plain.wrapper = None;
        assert_eq!(catches(&plain), [Criterion::RssGrowth]);
        assert_eq!(catches(&wrapped(vec![])), []);
    }
}
