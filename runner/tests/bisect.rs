//! `memtest bisect`, `run --history` and `memtest trend` on throw-away git
//! repositories (tests/fixtures/bisect_repo.sh: a tiny C library built by
//! make, its memory suite a C program on the `command` runtime, ~0.5 s a
//! run). One repository has a leak planted at a known commit, a commit that
//! does not build, and noise (every 4th run of the suite holds 40 MB more,
//! failing that run as a leak would); the bisection must name the planted
//! commit. The other creeps 1 MB (2%) a commit: the comparison with the
//! commit before passes every time, the drift check against the pinned
//! baseline fails once the creep adds up.

mod common;

use common::memtest;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A throw-away repository of `mode` in `dir/repo`.
fn repo(dir: &Path, mode: &str, counter: Option<&Path>) -> PathBuf {
    let root = dir.join("repo");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bisect_repo.sh");
    let mut cmd = Command::new("bash");
    cmd.arg(script).arg(&root).arg(mode);
    if let Some(c) = counter {
        cmd.arg(c);
    }
    let out = cmd.output().expect("bash runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    root
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// The commit whose subject is `subject`.
fn commit_named(repo: &Path, subject: &str) -> String {
    git(
        repo,
        &["log", "--format=%H", &format!("--grep=^{subject}$")],
    )
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Worktrees, bisect state and processes a bisection may have left.
fn assert_nothing_left(repo: &Path, head: &str) {
    let trees = git(repo, &["worktree", "list", "--porcelain"]);
    assert_eq!(
        trees.matches("worktree ").count(),
        1,
        "worktrees left: {trees}"
    );
    let bisect = repo.join(".memtest/bisect");
    let left: Vec<_> = std::fs::read_dir(&bisect)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("wt-"))
        .collect();
    assert!(left.is_empty(), "checkouts left: {left:?}");
    assert!(!repo.join(".git/BISECT_LOG").exists() && !repo.join(".git/BISECT_START").exists());
    assert_eq!(git(repo, &["rev-parse", "HEAD"]), head, "HEAD moved");
    assert_eq!(
        git(repo, &["status", "--porcelain"]),
        "",
        "the work tree changed"
    );
    let needle = bisect.join("wt-").display().to_string();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let running = processes_mentioning(&needle);
        if running.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "processes left: {running:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Live processes whose command line or working folder mentions `needle`.
fn processes_mentioning(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        if entry.file_name().to_string_lossy().parse::<u32>().is_err() {
            continue;
        }
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        if stat
            .rsplit_once(')')
            .is_some_and(|(_, r)| r.trim_start().starts_with('Z'))
        {
            continue;
        }
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        let cwd = std::fs::read_link(entry.path().join("cwd")).unwrap_or_default();
        if cmdline.contains(needle) || cwd.display().to_string().contains(needle) {
            found.push(format!(
                "{}: {cmdline}",
                entry.file_name().to_string_lossy()
            ));
        }
    }
    found
}

#[test]
fn bisect_names_the_leaking_commit_through_noise_and_a_broken_build() {
    let dir = tempfile::tempdir().unwrap();
    let counter = dir.path().join("noise-counter");
    let repo = repo(dir.path(), "leak", Some(&counter));
    let head = git(&repo, &["rev-parse", "HEAD"]);
    let leak = commit_named(&repo, "cache: keep every block for reuse");
    let broken = commit_named(&repo, "tidy: one statement a line (does not build)");
    let started = Instant::now();
    let out = memtest(&["bisect", "--good", "HEAD~24"], &repo);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    eprintln!("bisect took {:?}\n{stdout}", started.elapsed());
    assert!(
        stdout.contains(&format!(
            "first bad commit: {leak}  \"cache: keep every block for reuse\""
        )),
        "{stdout}"
    );
    let log = json(&repo.join(".memtest/bisect/bisect.json"));
    assert_eq!(log["outcome"]["status"], "found");
    assert_eq!(log["outcome"]["first_bad"]["id"], leak.as_str());
    assert_eq!(log["commits"], 24);
    let steps = log["steps"].as_array().unwrap();
    // The broken commit is the first the search picks (the middle): skipped.
    let skipped: Vec<_> = steps
        .iter()
        .filter(|s| s["decision"] == "skipped")
        .collect();
    assert_eq!(skipped.len(), 1, "{log:#}");
    assert_eq!(skipped[0]["commit"]["id"], broken.as_str());
    let reason = skipped[0]["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("build or preflight failed") && reason.contains("lib.c"),
        "{reason}"
    );
    // Noise was met and outvoted: a commit judged good had a failing run.
    let noisy_good = steps.iter().any(|s| {
        s["decision"] == "good"
            && s["runs"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["class"] == "bad")
    });
    assert!(noisy_good, "no good commit saw a noisy run: {log:#}");
    // Every decided commit agrees with where the leak is.
    let order: Vec<String> = git(&repo, &["rev-list", "--reverse", "HEAD"])
        .lines()
        .map(str::to_string)
        .collect();
    let at = |id: &str| order.iter().position(|c| c == id).unwrap();
    for s in steps.iter().filter(|s| s["decision"] != "skipped") {
        let id = s["commit"]["id"].as_str().unwrap();
        let bad = at(id) >= at(&leak);
        assert_eq!(s["decision"], if bad { "bad" } else { "good" }, "{id}");
    }
    assert_nothing_left(&repo, &head);
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

/// `--sites`: the bad suite runs in attribution mode (valgrind memcheck,
/// explain's choice for a make-built library) at the last good and the first
/// bad commit, and the one site that grew is the function the leaking
/// commit added.
#[test]
fn bisect_sites_names_the_function_the_leaking_commit_added() {
    if !["valgrind", "make", "cc"].iter().all(|p| on_path(p)) {
        eprintln!("skipped: needs valgrind, make and cc");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let repo = repo(dir.path(), "leak", None);
    let head = git(&repo, &["rev-parse", "HEAD"]);
    let leak = commit_named(&repo, "cache: keep every block for reuse");
    let before = git(&repo, &["rev-parse", &format!("{leak}~1")]);
    let out = memtest(&["bisect", "--good", "HEAD~10", "--sites"], &repo);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    let log = json(&repo.join(".memtest/bisect/bisect.json"));
    assert_eq!(log["outcome"]["first_bad"]["id"], leak.as_str(), "{stdout}");
    let sites = &log["sites"];
    assert_eq!(sites["last_good"]["id"], before.as_str());
    assert_eq!(sites["first_bad"]["id"], leak.as_str());
    assert_eq!(sites["suites"], serde_json::json!(["work-memory"]));
    assert!(sites.get("error").is_none(), "{sites:#}");
    let grown = sites["grown"].as_array().unwrap();
    assert_eq!(grown.len(), 1, "only the planted site grew: {sites:#}");
    let site = &grown[0];
    let name = site["name"].as_str().unwrap();
    assert!(name.starts_with("cache_keep (lib.c:"), "{sites:#}");
    assert_eq!(site["new"], true);
    assert_eq!(site["source"], "valgrind");
    // Every call of the run leaked its 256 KiB block there.
    let blocks = site["bad_blocks"].as_u64().unwrap();
    assert!(blocks >= 100, "{sites:#}");
    assert_eq!(site["bad_bytes"].as_u64().unwrap(), blocks * 256 * 1024);
    assert!(
        stdout.contains("sites grown from")
            && stdout.contains(&format!("work-memory  {name}  +"))
            && stdout.contains("definitely lost (new)"),
        "{stdout}"
    );
    assert_nothing_left(&repo, &head);
}

#[test]
fn ctrl_c_during_a_bisection_leaves_no_worktree_process_or_state() {
    let dir = tempfile::tempdir().unwrap();
    let repo = repo(dir.path(), "leak", None);
    let head = git(&repo, &["rev-parse", "HEAD"]);
    let child = Command::new(env!("CARGO_BIN_EXE_memtest"))
        .args(["bisect", "--good", "HEAD~24"])
        .current_dir(&repo)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Interrupt while a suite of a checked-out commit runs.
    let suite = repo.join(".memtest/bisect/wt-").display().to_string();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !processes_mentioning(&suite)
        .iter()
        .any(|p| p.contains("build/suite"))
    {
        assert!(Instant::now() < deadline, "no suite started");
        std::thread::sleep(Duration::from_millis(10));
    }
    // SAFETY: kill only reads its arguments; the pid is our own live child.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let sent = Instant::now();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(130),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        sent.elapsed() < Duration::from_secs(15),
        "took {:?}",
        sent.elapsed()
    );
    assert!(
        stdout.contains("interrupted: no worktree or process is left"),
        "{stdout}"
    );
    let log = json(&repo.join(".memtest/bisect/bisect.json"));
    assert_eq!(log["outcome"]["status"], "interrupted");
    assert_nothing_left(&repo, &head);
}

#[test]
fn bisect_refuses_revisions_in_the_wrong_order() {
    let dir = tempfile::tempdir().unwrap();
    let repo = repo(dir.path(), "creep", None);
    let out = memtest(&["bisect", "--good", "HEAD", "--bad", "HEAD~3"], &repo);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("must be an earlier commit than --bad"),
        "{stderr}"
    );
    let out = memtest(&["bisect", "--good", "no-such-tag"], &repo);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("`no-such-tag` names no commit here"));
}

/// The regression failures of a run's JSON report, by metric.
fn regressions(report: &serde_json::Value) -> Vec<String> {
    report["suites"][0]["failures"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["criterion"] == "regression")
        .map(|f| f["metric"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_creep_passes_every_previous_run_check_and_fails_the_pinned_baseline() {
    let dir = tempfile::tempdir().unwrap();
    let repo = repo(dir.path(), "creep", None);
    let out_dir = dir.path().join("out");
    std::fs::create_dir_all(&out_dir).unwrap();
    let p = |name: &str| out_dir.join(name).display().to_string();
    let history = p("history.jsonl");
    let commits: Vec<String> = git(&repo, &["rev-list", "--reverse", "HEAD"])
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(commits.len(), 10);
    for (k, commit) in commits.iter().enumerate() {
        git(&repo, &["checkout", "--quiet", commit]);
        // The last commit runs three times: a band of its own.
        for run in 0..if k == 9 { 3 } else { 1 } {
            let report = p(&format!("run-{k}-{run}.json"));
            let mut args = vec!["run", "--json", &report, "--history", &history];
            let previous = p("previous.json");
            if k > 0 {
                args.extend(["--baseline", &previous]);
            }
            let out = memtest(&args, &repo);
            let code = out.status.code();
            assert!(
                matches!(code, Some(0 | 1)),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            // The comparison with the commit before never sees the creep.
            let r = json(Path::new(&report));
            assert!(
                !regressions(&r).contains(&"peak_rss_bytes".to_string()),
                "commit {k}: {:#}",
                r["suites"][0]["failures"]
            );
            if run == 0 {
                let save = memtest(
                    &["baseline", "save", "--from", &report, "-o", &previous],
                    &repo,
                );
                assert!(save.status.success());
                if k == 0 {
                    std::fs::copy(&previous, p("pinned.json")).unwrap();
                }
            }
        }
    }
    // A run against the pinned baseline fails on peak RSS.
    let report = p("against-pinned.json");
    let out = memtest(
        &["run", "--json", &report, "--baseline", &p("pinned.json")],
        &repo,
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(regressions(&json(Path::new(&report))).contains(&"peak_rss_bytes".to_string()));

    // The trend of the history: drifted, since the commit that passed 55 MB.
    let (svg_dir, page, trend_json) = (p("trend"), p("trend.html"), p("trend.json"));
    let args = [
        "trend",
        "--history",
        &history,
        "--baseline",
        &p("pinned.json"),
        "--html",
        &page,
        "--svg",
        &svg_dir,
        "--json",
        &trend_json,
    ];
    let out = memtest(&args, &repo);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let t = json(Path::new(&trend_json));
    assert_eq!(t["drifted"], true);
    let suite = &t["suites"][0];
    let points = suite["points"].as_array().unwrap();
    assert_eq!(points.len(), 10);
    assert_eq!(points[9]["runs"], 3);
    assert_eq!(points[9]["figures"]["peak_rss_bytes"]["n"], 3);
    let peak = suite["drift"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["metric"] == "peak_rss_bytes")
        .unwrap();
    assert_eq!(peak["steps_over"].as_array().unwrap().len(), 0, "{peak:#}");
    // 50 MB held at the base, +1 MB a commit, limit 50 + 5 MB: over from
    // the commit holding 56 MB (or 55, the suite's own few hundred KB on top).
    let since = peak["over_since"].as_str().unwrap();
    let k = commits.iter().position(|c| c.starts_with(since)).unwrap();
    assert!((5..=6).contains(&k), "over since commit {k}: {peak:#}");
    assert!(
        stdout.contains("peak RSS") && stdout.contains("DRIFTED, over since"),
        "{stdout}"
    );
    // The page and the plot are real files with the band and the lines.
    let svg = std::fs::read_to_string(Path::new(&svg_dir).join("work-memory.svg")).unwrap();
    assert!(svg.contains("<polygon") && svg.contains("<polyline") && svg.contains("limit"));
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("data-suite=\"work-memory\"") && html.contains("DRIFTED"));
}
