//! How long each suite took last time, kept in `.memtest/durations.json`, so
//! the next run starts the longest suites first. Durations depend on the
//! scale, so they are kept per suite and scale (each job's own: a canary may
//! run below the run's scale). Losing the file only costs
//! the ordering: reading and writing it never fails a run.

use crate::config::Config;
use crate::model::{Exit, Job, Outcome};
use std::collections::BTreeMap;
use std::path::PathBuf;

fn path(config: &Config) -> PathBuf {
    config.state_dir().join("durations.json")
}

fn key(suite: &str, scale: f64) -> String {
    format!("{suite}@{scale}")
}

/// Suite -> last duration in milliseconds, for each job at its scale.
pub fn load(config: &Config, jobs: &[Job]) -> BTreeMap<String, u64> {
    let all: BTreeMap<String, u64> = std::fs::read(path(config))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    jobs.iter()
        .filter_map(|j| Some((j.suite.clone(), *all.get(&key(&j.suite, j.scale))?)))
        .collect()
}

/// Records the durations of suites that ran to their own end (not stopped,
/// not failed to start), keeping every other entry.
pub fn save(config: &Config, outcomes: &[Outcome]) {
    let file = path(config);
    let mut all: BTreeMap<String, u64> = std::fs::read(&file)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    for o in outcomes {
        let ran = matches!(o.measured.exit, Exit::Code { .. } | Exit::Signal { .. });
        // A soak lasts its duration, not what a plain run of the suite does.
        if ran && o.job.duration.is_none() {
            let ms = o.measured.duration.as_millis() as u64;
            all.insert(key(&o.job.suite, o.job.scale), ms);
        }
    }
    if let Ok(text) = serde_json::to_vec_pretty(&all) {
        let _ = crate::atomic::write_atomic(&file, &text);
    }
}
