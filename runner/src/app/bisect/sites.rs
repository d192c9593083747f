//! `bisect --sites`: once the first bad commit is found, the suites that
//! made it bad run once in attribution mode at the last good and at the
//! first bad commit (a child `memtest explain SUITE... --json FILE` in a
//! fresh worktree of each, as the search's runs are), and the sites their
//! reports name are compared ([`crate::bisect::sites::grown`]). A commit
//! whose attribution run fails leaves the comparison out, with why; the
//! bisection's answer stands either way.

use super::super::git::{self, Worktree};
use super::super::AppError;
use super::tester::{last_error, Tester};
use crate::bisect::log::{Event, Step};
use crate::bisect::sites::{grown, SitesDiff, SuiteSitesAt};
use crate::bisect::RunClass;
use crate::history::Commit;
use crate::report;
use std::ffi::OsString;

/// The suites that made `step`'s bad runs bad, by the oracle, in the order
/// they first did.
pub(super) fn bad_suites(tester: &Tester, step: &Step) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for run in step.runs.iter().filter(|r| r.class == RunClass::Bad) {
        for o in &run.suites {
            let bad = tester
                .oracle
                .classify(std::slice::from_ref(o), &tester.reference)
                == RunClass::Bad;
            if bad && !names.contains(&o.suite) {
                names.push(o.suite.clone());
            }
        }
    }
    names
}

/// Explains `suites` at both commits and compares their sites. A failed
/// attribution run, or an interrupt (the caller sees it set), is the
/// diff's `error`: the answer found stands.
pub(super) fn compare(
    tester: &mut Tester,
    last_good: &Commit,
    first_bad: &Commit,
    suites: Vec<String>,
    emit: &mut dyn FnMut(Event),
) -> Result<SitesDiff, AppError> {
    emit(Event::Explaining {
        last_good: last_good.clone(),
        first_bad: first_bad.clone(),
        suites: suites.clone(),
    });
    let mut diff = SitesDiff {
        last_good: last_good.clone(),
        first_bad: first_bad.clone(),
        suites: suites.clone(),
        grown: Vec::new(),
        error: None,
    };
    if suites.is_empty() {
        diff.error = Some("no suite was bad by the oracle at the first bad commit".into());
        return Ok(diff);
    }
    let both = explain_at(tester, last_good, &suites).and_then(|good| {
        let bad = explain_at(tester, first_bad, &suites)?;
        Ok(good.and_then(|g| bad.map(|b| (g, b))))
    });
    match both {
        Ok(Ok((good, bad))) => diff.grown = grown(&good, &bad),
        Ok(Err(e)) => diff.error = Some(e),
        Err(AppError::Interrupted { .. }) => diff.error = Some("interrupted".into()),
        Err(e) => return Err(e),
    }
    Ok(diff)
}

/// `suites` run by `memtest explain` at `commit`: their sites, or why not.
fn explain_at(
    tester: &mut Tester,
    commit: &Commit,
    suites: &[String],
) -> Result<Result<Vec<SuiteSitesAt>, String>, AppError> {
    tester.interrupted()?;
    let path = tester.home.join(format!("wt-{}", commit.short()));
    git::remove(&tester.top, &path);
    let tree = Worktree::add(&tester.top, &path, &commit.id)?;
    let config = tree.path().join(&tester.rel_config);
    if !config.is_file() {
        return Ok(Err(format!(
            "no {} at {}",
            tester.rel_config.display(),
            commit.short()
        )));
    }
    let runs = tester.home.join("runs");
    std::fs::create_dir_all(&runs).map_err(AppError::ReportIo)?;
    let json = runs.join(format!("{}-explain.json", commit.short()));
    let output = runs.join(format!("{}-explain.log", commit.short()));
    let _ = std::fs::remove_file(&json);
    let mut argv = tester.global_args(&config);
    argv.push("explain".into());
    argv.extend(suites.iter().map(OsString::from));
    argv.extend(tester.exec_args(&json));
    let code = tester.child(tree.path(), argv, &output)?;
    drop(tree);
    if code != Some(0) {
        return Ok(Err(format!(
            "explain at {} ended with {}: {}",
            commit.short(),
            code.map_or("a signal".into(), |c| format!("exit {c}")),
            last_error(&output)
        )));
    }
    Ok(match report::read_report(&json) {
        Ok(r) => Ok(r
            .suites
            .iter()
            .map(|s| SuiteSitesAt {
                suite: s.name.clone(),
                sites: s.sites.clone(),
            })
            .collect()),
        Err(e) => Err(format!("explain at {} left no report: {e}", commit.short())),
    })
}
