//! The bisection as it happens, on stdout: what is searched and how it is
//! judged, then per tested commit its runs (each selected suite's verdict
//! and figures, good or bad) and what they settled on, and the answer.
//! Figures go through `Metric::value` (crate::units).

use super::sites::{source_name, unit_of};
use super::text::Paint;
use crate::bisect::log::{Event, Log, Outcome, Role, RunLog, Step};
use crate::bisect::sites::SitesDiff;
use crate::bisect::{Decision, Observation, RunClass};
use crate::history::Commit;
use crate::model::Metric;
use crate::units::Bytes;
use std::io::Write;
use std::path::Path;

/// Writes the bisection's JSON log, whole or not at all (it is rewritten
/// after every tested commit).
pub fn write_log(path: &Path, log: &Log) -> std::io::Result<()> {
    let text = serde_json::to_string_pretty(log).expect("a bisection log always serialises");
    crate::atomic::write_atomic(path, (text + "\n").as_bytes())
}

/// Prints bisection events to `out`.
pub struct BisectReporter<W: Write> {
    out: W,
    paint: Paint,
    /// The figure the oracle judges, shown first in every run's line.
    metric: Option<Metric>,
}

impl<W: Write> BisectReporter<W> {
    pub fn new(out: W, color: bool) -> BisectReporter<W> {
        BisectReporter {
            out,
            paint: Paint { enabled: color },
            metric: None,
        }
    }

    /// Prints one event; a closed stdout is not the bisection's failure.
    pub fn on_event(&mut self, event: &Event) {
        let text = self.render(event);
        let _ = self.out.write_all(text.as_bytes());
        let _ = self.out.flush();
    }

    fn render(&mut self, event: &Event) -> String {
        match event {
            Event::Started {
                good,
                bad,
                commits,
                oracle,
                rule,
            } => {
                self.metric = oracle.metric();
                format!(
                    "bisecting {commits} commit{} after {} (good) up to {} (bad), first parent only\n  \
                     bad means: {}\n  \
                     each commit runs until one outcome leads by {} (at most {} runs), else it is skipped\n",
                    if *commits == 1 { "" } else { "s" },
                    good.short(),
                    bad.short(),
                    oracle.describe(),
                    rule.margin,
                    rule.max_runs
                )
            }
            Event::Testing {
                role,
                commit,
                position,
                steps_left,
            } => {
                let what = match (role, position) {
                    (Role::Good, _) => "--good".to_string(),
                    (Role::Bad, _) => "--bad".to_string(),
                    (Role::Step, Some(p)) => format!(
                        "#{p} (~{steps_left} step{} left)",
                        if *steps_left == 1 { "" } else { "s" }
                    ),
                    (Role::Step, None) => "step".to_string(),
                };
                format!(
                    "\n{} {}  {}\n",
                    self.paint.bold(&commit.short()),
                    what,
                    subject(commit)
                )
            }
            Event::Ran(run) => self.run_line(run),
            Event::Decided(step) => self.decision_line(step),
            Event::Explaining {
                last_good,
                first_bad,
                suites,
            } => format!(
                "\nexplaining {} at {} (last good) and {} (first bad): where they leak\n",
                suites.join(", "),
                last_good.short(),
                first_bad.short()
            ),
            Event::Finished {
                outcome,
                sites,
                log,
            } => format!(
                "\n{}\n{}log: {}\n",
                self.outcome(outcome),
                sites.as_ref().map(|d| self.sites(d)).unwrap_or_default(),
                log.display()
            ),
        }
    }

    fn run_line(&self, run: &RunLog) -> String {
        let class = match run.class {
            RunClass::Good => self.paint.green("good"),
            RunClass::Bad => self.paint.red("bad "),
            RunClass::NoFigure => self.paint.yellow("n/a "),
        };
        let suites: Vec<String> = run.suites.iter().map(|o| self.observation(o)).collect();
        let detail = if suites.is_empty() {
            format!("no suite ran (memtest exit {})", exit(run.exit_code))
        } else {
            suites.join("; ")
        };
        format!("  run {}  {class}  {detail}\n", run.run)
    }

    /// "c-memory FAIL (rss_growth) peak RSS 33.1 MB, RSS growth +30.0 MB".
    fn observation(&self, o: &Observation) -> String {
        let mut metrics: Vec<Metric> = self.metric.into_iter().collect();
        metrics.extend(
            [Metric::PeakRss, Metric::RssGrowth]
                .into_iter()
                .filter(|m| Some(*m) != self.metric),
        );
        let figures: Vec<String> = metrics
            .iter()
            .filter_map(|m| Some(format!("{} {}", m.label(), m.value(o.figures.get(*m)?))))
            .collect();
        let verdict = if o.success {
            self.paint.green(&o.verdict)
        } else {
            self.paint.red(&o.verdict)
        };
        let on = if o.failed_on.is_empty() {
            String::new()
        } else {
            let names: Vec<&str> = o.failed_on.iter().map(|c| c.name()).collect();
            format!(" ({})", names.join(", "))
        };
        format!("{} {verdict}{on}  {}", o.suite, figures.join(", "))
    }

    fn decision_line(&self, step: &Step) -> String {
        let (good, bad) = step.tally();
        let runs = format!("{good} good, {bad} bad of {}", step.runs.len());
        let line = match step.decision {
            Decision::Good => format!("{} ({runs})", self.paint.green("-> good")),
            Decision::Bad => format!("{} ({runs})", self.paint.red("-> bad")),
            Decision::Skipped => format!(
                "{}: {}",
                self.paint.yellow("-> skipped"),
                step.reason.as_deref().unwrap_or("could not be judged")
            ),
        };
        format!("  {line}\n")
    }

    fn outcome(&self, outcome: &Outcome) -> String {
        match outcome {
            Outcome::Found {
                first_bad,
                last_good,
            } => format!(
                "{} {}  {}\n  last good: {}  {}",
                self.paint.bold("first bad commit:"),
                self.paint.red(&first_bad.id),
                subject(first_bad),
                last_good.short(),
                subject(last_good)
            ),
            Outcome::Among { last_good, commits } => {
                let list: Vec<String> = commits
                    .iter()
                    .map(|c| format!("  {}  {}", c.short(), subject(c)))
                    .collect();
                format!(
                    "{} only commits that could not be judged lie between the last good one ({}) and the first bad one; the first bad commit is one of:\n{}",
                    self.paint.yellow("inconclusive:"),
                    last_good.short(),
                    list.join("\n")
                )
            }
            Outcome::EndpointsDisagree { message } | Outcome::EndpointUntestable { message } => {
                format!("{} {message}", self.paint.red("cannot bisect:"))
            }
            Outcome::Interrupted => self
                .paint
                .yellow("interrupted: no worktree or process is left"),
        }
    }
}

impl<W: Write> BisectReporter<W> {
    /// The grown sites, largest first, one line each: "work-memory
    /// cache_keep (lib.c:9)  +51.2 MB native in 200 blocks definitely lost
    /// (new)".
    fn sites(&self, diff: &SitesDiff) -> String {
        let head = format!(
            "sites grown from {} to {}:",
            diff.last_good.short(),
            diff.first_bad.short()
        );
        if let Some(error) = &diff.error {
            return format!("{} {error}\n", self.paint.yellow("sites not compared:"));
        }
        if diff.grown.is_empty() {
            return format!("{head} none (explained: {})\n", diff.suites.join(", "));
        }
        let width = diff.grown.iter().map(|g| g.name.len()).max().unwrap_or(0);
        let lines: Vec<String> = diff
            .grown
            .iter()
            .map(|g| {
                let count = |n: u64| {
                    let unit = unit_of(g.layer);
                    format!(
                        "{n} {}",
                        if n == 1 {
                            &unit[..unit.len() - 1]
                        } else {
                            unit
                        }
                    )
                };
                let was = if g.new {
                    "new".to_string()
                } else {
                    format!("was {} in {}", Bytes(g.good_bytes), count(g.good_blocks))
                };
                format!(
                    "  {}  {:<width$}  {} {} in {} {} ({was})",
                    g.suite,
                    g.name,
                    self.paint.red(&format!("+{}", Bytes(g.grown_bytes()))),
                    g.layer.as_str(),
                    count(g.bad_blocks),
                    source_name(g.source),
                )
            })
            .collect();
        format!("{head}\n{}\n", lines.join("\n"))
    }
}

fn subject(c: &Commit) -> String {
    format!("\"{}\"", c.subject)
}

fn exit(code: Option<i32>) -> String {
    code.map_or_else(|| "by a signal".to_string(), |c| c.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bisect::{Oracle, Rule};
    use crate::model::Criterion;
    use crate::verdict::baseline::BaselineEntry;

    fn commit(id: &str, subject: &str) -> Commit {
        Commit {
            id: id.into(),
            subject: subject.into(),
            time_unix: 0,
            depth: None,
            dirty: false,
        }
    }

    #[test]
    fn a_bisection_reads_step_by_step() {
        let mut out = Vec::new();
        let mut r = BisectReporter::new(&mut out, false);
        let oracle = Oracle::Above {
            metric: Metric::PeakRss,
            limit: 50e6,
        };
        r.on_event(&Event::Started {
            good: commit("aaaaaaaaaaaa", "base"),
            bad: commit("bbbbbbbbbbbb", "tip"),
            commits: 24,
            oracle,
            rule: Rule::default(),
        });
        let first = commit("cccccccccccc", "leak: keep every buffer");
        r.on_event(&Event::Testing {
            role: Role::Step,
            commit: first.clone(),
            position: Some(16),
            steps_left: 3,
        });
        let run = RunLog {
            run: 1,
            class: RunClass::Bad,
            exit_code: Some(1),
            suites: vec![Observation {
                suite: "c-memory".into(),
                verdict: "FAIL".into(),
                success: false,
                failed_on: vec![Criterion::RssGrowth],
                figures: BaselineEntry {
                    peak_rss_bytes: 66_000_000,
                    rss_growth_bytes: 60_000_000,
                    slope_bytes_per_sec: None,
                    duration_ms: 500,
                },
            }],
            output: "/x.log".into(),
        };
        r.on_event(&Event::Ran(run.clone()));
        r.on_event(&Event::Decided(Step {
            role: Role::Step,
            commit: first.clone(),
            position: Some(16),
            runs: vec![run.clone(), RunLog { run: 2, ..run }],
            decision: Decision::Bad,
            reason: None,
            duration_ms: 900,
        }));
        r.on_event(&Event::Finished {
            outcome: Outcome::Found {
                first_bad: first,
                last_good: commit("dddddddddddd", "tune"),
            },
            sites: None,
            log: "/b.json".into(),
        });
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "bisecting 24 commits after aaaaaaaaaa (good) up to bbbbbbbbbb (bad), first parent only\n  \
             bad means: peak RSS above 50.0 MB\n  \
             each commit runs until one outcome leads by 2 (at most 5 runs), else it is skipped\n\
             \ncccccccccc #16 (~3 steps left)  \"leak: keep every buffer\"\n  \
             run 1  bad   c-memory FAIL (rss_growth)  peak RSS 66.0 MB, RSS growth +60.0 MB\n  \
             -> bad (0 good, 2 bad of 2)\n\
             \nfirst bad commit: cccccccccccc  \"leak: keep every buffer\"\n  \
             last good: dddddddddd  \"tune\"\nlog: /b.json\n"
        );
    }

    #[test]
    fn the_grown_sites_follow_the_answer_largest_first() {
        use crate::bisect::sites::GrownSite;
        use crate::model::{Layer, SiteSource};
        let (good, bad) = (
            commit("dddddddddddd", "tune"),
            commit("cccccccccccc", "leak"),
        );
        let site = |name: &str, good_bytes: u64, bad_bytes: u64, new: bool| GrownSite {
            suite: "work-memory".into(),
            layer: Layer::Native,
            source: SiteSource::Valgrind,
            name: name.into(),
            good_bytes,
            good_blocks: u64::from(!new),
            bad_bytes,
            bad_blocks: 200,
            new,
        };
        let diff = SitesDiff {
            last_good: good.clone(),
            first_bad: bad.clone(),
            suites: vec!["work-memory".into()],
            grown: vec![
                site("cache_keep (lib.c:9)", 0, 52_428_800, true),
                site("work (lib.c:14)", 64, 128, false),
            ],
            error: None,
        };
        let mut out = Vec::new();
        let mut r = BisectReporter::new(&mut out, false);
        r.on_event(&Event::Explaining {
            last_good: good.clone(),
            first_bad: bad.clone(),
            suites: diff.suites.clone(),
        });
        let outcome = Outcome::Found {
            first_bad: bad,
            last_good: good,
        };
        r.on_event(&Event::Finished {
            outcome: outcome.clone(),
            sites: Some(Box::new(diff.clone())),
            log: "/b.json".into(),
        });
        let none = SitesDiff {
            grown: vec![],
            ..diff.clone()
        };
        let failed = SitesDiff {
            error: Some("explain at dddddddddd ended with exit 3: build failed".into()),
            ..none.clone()
        };
        for d in [none, failed] {
            r.on_event(&Event::Finished {
                outcome: outcome.clone(),
                sites: Some(Box::new(d)),
                log: "/b.json".into(),
            });
        }
        let text = String::from_utf8(out).unwrap();
        let found =
            "\nfirst bad commit: cccccccccccc  \"leak\"\n  last good: dddddddddd  \"tune\"\n";
        assert_eq!(
            text,
            format!(
                "\nexplaining work-memory at dddddddddd (last good) and cccccccccc (first bad): where they leak\n\
                 {found}\
                 sites grown from dddddddddd to cccccccccc:\n  \
                 work-memory  cache_keep (lib.c:9)  +52.4 MB native in 200 blocks definitely lost (new)\n  \
                 work-memory  work (lib.c:14)       +64 B native in 200 blocks definitely lost (was 64 B in 1 block)\n\
                 log: /b.json\n\
                 {found}\
                 sites grown from dddddddddd to cccccccccc: none (explained: work-memory)\n\
                 log: /b.json\n\
                 {found}\
                 sites not compared: explain at dddddddddd ended with exit 3: build failed\n\
                 log: /b.json\n"
            )
        );
    }
}
