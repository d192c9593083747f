//! `memtest fuzz NAME --time 60s [--seed N] [--variant V]` and
//! `memtest fuzz --replay FILE`: leak-aware fuzzing of a binding.
//!
//! A fuzz target is an ordinary suite whose script hands one-input and
//! live-count functions to the fuzz helper (memtest_fuzz.py,
//! memtest-fuzz.js): it is declared, resolved, built, planned and judged as
//! every suite is, and runs in `run`/`all` with a budget from its scale.
//! This command runs it with the budget, seed and variant of the command
//! line (`MEMTEST_FUZZ_*` in its environment), the findings folder
//! `.memtest/fuzz/NAME`, and afterwards: saves the input that was running
//! when the process crashed (the helper keeps it in `.current`), and lists
//! the reproducers the run left with the figure that failed. `--replay` runs
//! one reproducer through the same check, on the variant it was found on.

use super::run::{run_adjusted, Adjust, Ran};
use super::{AppError, Context, ExitStatus};
use crate::cli::{FilterArgs, FuzzArgs};
use crate::config::{Config, SettingsPatch, Source, DEFAULT_VARIANT};
use crate::model::{Exit, Job, Outcome};
use crate::report::ReportOptions;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Time a fuzz run gets beyond its budget: the interpreter's start, the
/// warm-up over the seeds, the last input and the figures.
const STARTUP_ALLOWANCE: Duration = Duration::from_secs(120);

/// The input the helper was running, kept there for a crash.
const CURRENT: &str = ".current";

/// What a reproducer's `.json` says about it (the helpers write it; this
/// command writes it for a crash).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub(super) struct Finding {
    pub kind: String,
    #[serde(default)]
    pub figure: serde_json::Value,
    #[serde(default)]
    pub unit: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suite: Option<String>,
    #[serde(default)]
    pub seed: Option<u64>,
}

impl Finding {
    fn load(reproducer: &Path) -> Option<Finding> {
        let text = std::fs::read_to_string(meta_path(reproducer)).ok()?;
        serde_json::from_str(&text).ok()
    }

    fn figure_text(&self) -> String {
        let figure = match &self.figure {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        format!("{} {}", figure, self.unit).trim().to_string()
    }
}

fn meta_path(reproducer: &Path) -> PathBuf {
    let mut name = reproducer.as_os_str().to_owned();
    name.push(".json");
    PathBuf::from(name)
}

/// The findings folder of a fuzz suite.
pub(super) fn findings_dir(config: &Config, suite: &str) -> PathBuf {
    config.state_dir().join("fuzz").join(suite)
}

/// `memtest fuzz`.
pub(super) fn fuzz(
    config: &Config,
    ctx: &Context,
    args: &FuzzArgs,
    opts: &ReportOptions,
) -> Result<ExitStatus, AppError> {
    let replay = match &args.replay {
        Some(path) => Some(Replay::of(path)?),
        None => None,
    };
    let name = match (&args.name, &replay) {
        (Some(name), _) => name.clone(),
        (None, Some(r)) => r.suite.clone().ok_or_else(|| {
            AppError::Usage(format!(
                "--replay {}: name the fuzz suite (its reproducer is not in .memtest/fuzz/NAME)",
                r.path.display()
            ))
        })?,
        (None, None) => unreachable!("clap requires NAME without --replay"),
    };
    if config.suite(&name).is_none() {
        return Err(AppError::Usage(format!(
            "no suite `{name}` in {}",
            config.path.display()
        )));
    }
    let asked = args
        .variant
        .clone()
        .or_else(|| replay.as_ref().and_then(|r| r.finding.variant.clone()));
    let asked = asked.map(|v| check_variant(config, v)).transpose()?;
    let mut config = config.clone();
    if let Some(v) = &asked {
        let suite = config
            .suites
            .iter_mut()
            .find(|s| s.name == name)
            .expect("found above");
        let patch = SettingsPatch {
            variant: Some(v.clone()),
            ..SettingsPatch::default()
        };
        suite.own.push((Source::CommandLine, patch));
    }
    let filter = FilterArgs {
        names: vec![name.clone()],
        ..FilterArgs::default()
    };
    // The variant as resolved (the suite's own when the command line and
    // the reproducer name none): the one a reproducer records.
    let (_, resolved) = ctx.resolve(&config, &filter, args.exec.scale)?;
    let variant = resolved
        .first()
        .map(|s| s.settings.variant.value.clone())
        .unwrap_or_else(|| DEFAULT_VARIANT.to_string());
    let dir = findings_dir(&config, &name);
    std::fs::create_dir_all(&dir).map_err(AppError::ReportIo)?;
    let env = fuzz_env(args, &dir, &name, &variant, replay.as_ref());
    let timeout = args.time + STARTUP_ALLOWANCE;
    let replaying = replay.is_some();
    let adjust = move |job: &mut Job| {
        job.env.extend(env.iter().cloned());
        job.timeout = job.timeout.max(timeout);
        if replaying {
            one_input_limits(job);
        }
    };
    let adjust = Adjust {
        job: &adjust,
        causes: Default::default(),
    };
    let started = SystemTime::now();
    let Ran { status, outcomes } =
        run_adjusted(&config, ctx, &filter, &args.exec, opts, Some(&adjust))?;
    let Some(outcome) = outcomes.first() else {
        return Ok(status);
    };
    if !outcome.measured.reported.contains_key("fuzz_execs")
        && matches!(outcome.measured.exit, Exit::Code { .. })
    {
        eprintln!(
            "memtest fuzz: `{name}` reported no fuzz_execs figure: is its script a fuzz target (memtest_fuzz / memtest-fuzz)?"
        );
    }
    if replay.is_none() {
        save_crash(&dir, &outcome.measured.exit, &name, &variant, args.seed);
        print!("{}", summary(&dir, outcome, started));
    }
    Ok(status)
}

/// A replay runs one input: judged on the exact count, its exit and
/// marker, and the peak RSS ceiling; growth and slope need a run long
/// enough to sample (a Rust replay ends in milliseconds).
fn one_input_limits(job: &mut Job) {
    let limits = &mut job.limits;
    limits.rss_growth = None;
    limits.vms_growth = None;
    limits.slope = None;
    limits.slope_per_op = None;
}

fn check_variant(config: &Config, v: String) -> Result<String, AppError> {
    let known = config
        .build
        .as_ref()
        .map(|b| b.variants.contains_key(&v))
        .unwrap_or(false);
    if known || v == DEFAULT_VARIANT {
        return Ok(v);
    }
    let names: Vec<String> = config
        .build
        .iter()
        .flat_map(|b| b.variants.keys().cloned())
        .collect();
    Err(AppError::Usage(format!(
        "--variant {v}: no [build.variants.{v}] (variants: {})",
        names.join(", ")
    )))
}

/// A reproducer to run again.
struct Replay {
    path: PathBuf,
    /// The suite whose findings folder holds it.
    suite: Option<String>,
    finding: Finding,
}

impl Replay {
    fn of(path: &Path) -> Result<Replay, AppError> {
        let path = std::fs::canonicalize(path)
            .map_err(|e| AppError::Usage(format!("--replay {}: {e}", path.display())))?;
        let finding = Finding::load(&path).unwrap_or_default();
        let suite = finding.suite.clone().or_else(|| {
            let parent = path.parent()?;
            let grand = parent.parent()?;
            (grand.file_name()? == "fuzz")
                .then(|| parent.file_name()?.to_str().map(String::from))
                .flatten()
        });
        Ok(Replay {
            path,
            suite,
            finding,
        })
    }
}

/// The fuzz helper's environment for this run (docs/fuzzing.md).
fn fuzz_env(
    args: &FuzzArgs,
    dir: &Path,
    suite: &str,
    variant: &str,
    replay: Option<&Replay>,
) -> Vec<(String, String)> {
    let mut env = vec![
        (
            "MEMTEST_FUZZ_TIME".into(),
            args.time.as_secs_f64().to_string(),
        ),
        ("MEMTEST_FUZZ_SEED".into(), args.seed.to_string()),
        ("MEMTEST_FUZZ_DIR".into(), dir.display().to_string()),
        ("MEMTEST_FUZZ_SUITE".into(), suite.to_string()),
        ("MEMTEST_FUZZ_ENGINE".into(), args.engine.clone()),
        ("MEMTEST_FUZZ_VARIANT".into(), variant.to_string()),
    ];
    if args.no_oracle {
        env.push(("MEMTEST_FUZZ_ORACLE".into(), "0".into()));
    }
    if let Some(r) = replay {
        env.push(("MEMTEST_FUZZ_REPLAY".into(), r.path.display().to_string()));
    }
    env
}

/// After a run the process of which died by a signal or was stopped at its
/// timeout: the input it was running becomes a `crash-` reproducer.
fn save_crash(dir: &Path, exit: &Exit, suite: &str, variant: &str, seed: u64) {
    let figure = match exit {
        Exit::Signal { name, .. } => format!("killed by {name}"),
        Exit::TimedOut { .. } => "stopped at the run's timeout".to_string(),
        _ => return,
    };
    let current = dir.join(CURRENT);
    let Ok(data) = std::fs::read(&current) else {
        return;
    };
    let digest = Sha256::digest(&data);
    let hex: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    let path = dir.join(format!("crash-{hex}"));
    let finding = Finding {
        kind: "crash".into(),
        figure: serde_json::Value::String(figure),
        unit: String::new(),
        variant: Some(variant.to_string()),
        suite: Some(suite.to_string()),
        seed: Some(seed),
    };
    let meta = serde_json::to_string_pretty(&finding).expect("a finding serializes");
    if std::fs::write(&path, &data).is_ok() {
        let _ = std::fs::write(meta_path(&path), meta + "\n");
        let _ = std::fs::remove_file(current);
    }
}

/// Reproducers in `dir` written since `since`, oldest first.
pub(super) fn new_findings(dir: &Path, since: SystemTime) -> Vec<(PathBuf, Finding)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<(SystemTime, PathBuf)> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().to_string();
            let modified = e.metadata().ok()?.modified().ok()?;
            let reproducer =
                !name.starts_with('.') && !name.ends_with(".json") && e.path().is_file();
            (reproducer && modified >= since).then(|| (modified, e.path()))
        })
        .collect();
    found.sort();
    found
        .into_iter()
        .map(|(_, p)| {
            let finding = Finding::load(&p).unwrap_or_default();
            (p, finding)
        })
        .collect()
}

/// The lines after the run's table: inputs run, their rate, each finding
/// with its figure and how to replay it.
fn summary(dir: &Path, outcome: &Outcome, since: SystemTime) -> String {
    let reported = &outcome.measured.reported;
    let execs = reported.get("fuzz_execs").copied().unwrap_or(0.0);
    let rate = reported.get("fuzz_execs_per_s").copied();
    let mut out = format!("fuzz: {} inputs", execs as u64);
    if let Some(rate) = rate {
        out.push_str(&format!(" ({rate:.0}/s)"));
    }
    let findings = new_findings(dir, since);
    if findings.is_empty() {
        out.push_str(", no finding\n");
        return out;
    }
    out.push_str(&format!(", {} finding(s):\n", findings.len()));
    for (path, finding) in findings {
        let kind = if finding.kind.is_empty() {
            "finding"
        } else {
            &finding.kind
        };
        out.push_str(&format!(
            "  {kind}: {}\n    {}\n    replay: memtest fuzz --replay {}\n",
            finding.figure_text(),
            path.display(),
            path.display()
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, data: &[u8], meta: Option<&str>) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, data).unwrap();
        if let Some(m) = meta {
            std::fs::write(meta_path(&p), m).unwrap();
        }
        p
    }

    #[test]
    fn findings_are_the_new_reproducers_with_their_figures() {
        let dir = tempfile::tempdir().unwrap();
        let before = SystemTime::now() - Duration::from_secs(5);
        write(dir.path(), ".current", b"x", None);
        let leak = write(
            dir.path(),
            "leak-abc",
            b"\0\0",
            Some(
                r#"{"kind":"leak","figure":2,"unit":"allocations left live","variant":"rare-leaky"}"#,
            ),
        );
        let found = new_findings(dir.path(), before);
        assert_eq!(
            found.len(),
            1,
            "dot files and .json sidecars are not findings"
        );
        assert_eq!(found[0].0, leak);
        assert_eq!(found[0].1.figure_text(), "2 allocations left live");
        assert_eq!(found[0].1.variant.as_deref(), Some("rare-leaky"));
        let later = SystemTime::now() + Duration::from_secs(60);
        assert!(
            new_findings(dir.path(), later).is_empty(),
            "older findings are not this run's"
        );
    }

    #[test]
    fn a_replay_names_its_suite_by_its_folder_or_its_record() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("fuzz").join("python-fuzz");
        std::fs::create_dir_all(&dir).unwrap();
        let plain = write(&dir, "leak-1", b"a", None);
        assert_eq!(
            Replay::of(&plain).unwrap().suite.as_deref(),
            Some("python-fuzz")
        );
        let elsewhere = write(
            root.path(),
            "leak-2",
            b"a",
            Some(r#"{"kind":"leak","suite":"node-fuzz"}"#),
        );
        assert_eq!(
            Replay::of(&elsewhere).unwrap().suite.as_deref(),
            Some("node-fuzz")
        );
        let orphan = write(root.path(), "leak-3", b"a", None);
        assert_eq!(Replay::of(&orphan).unwrap().suite, None);
        assert!(Replay::of(&root.path().join("missing")).is_err());
    }

    #[test]
    fn a_replay_is_judged_without_growth_and_slope() {
        let mut job = Job::example();
        job.limits.rss_growth = Some(crate::units::Bytes(1));
        job.limits.slope = Some(crate::units::BytesPerSec(1.0));
        job.limits.peak_rss = Some(crate::units::Bytes(50_000_000));
        one_input_limits(&mut job);
        assert_eq!((job.limits.rss_growth, job.limits.slope), (None, None));
        assert_eq!(job.limits.peak_rss, Some(crate::units::Bytes(50_000_000)));
        assert_eq!(job.limits.native_leaks, Some(0), "the exact check stays");
    }

    #[test]
    fn a_crash_saves_the_running_input_with_its_signal() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), CURRENT, b"boom", None);
        save_crash(dir.path(), &Exit::Code { code: 1 }, "s", "default", 3);
        assert!(
            dir.path().join(CURRENT).exists(),
            "an exit status is no crash"
        );
        let segv = Exit::Signal {
            signal: 11,
            name: "SIGSEGV".into(),
        };
        save_crash(dir.path(), &segv, "s", "rare-leaky", 3);
        let found = new_findings(dir.path(), SystemTime::UNIX_EPOCH);
        assert_eq!(found.len(), 1);
        assert_eq!(std::fs::read(&found[0].0).unwrap(), b"boom");
        assert_eq!(found[0].1.kind, "crash");
        assert_eq!(found[0].1.figure_text(), "killed by SIGSEGV");
        assert_eq!(found[0].1.variant.as_deref(), Some("rare-leaky"));
        assert!(!dir.path().join(CURRENT).exists());
    }
}
