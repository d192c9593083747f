//! The console's table of `memtest floor`'s answer: one row per suite,
//! its floor, what a run of the floor costs, the size missed below it, the
//! criteria that caught it, and what the search took.

use crate::floor::{FloorResult, SuiteFloor};
use crate::units::{format_duration, Bytes};
use std::time::Duration;

/// The answer: one row per suite.
pub fn floor_table(floors: &[SuiteFloor], profile: Option<&str>) -> String {
    #[derive(tabled::Tabled)]
    struct Row {
        suite: String,
        scale: String,
        floor: String,
        #[tabled(rename = "per run")]
        per_run: String,
        missed: String,
        #[tabled(rename = "caught by")]
        caught_by: String,
        probes: String,
        #[tabled(rename = "time (runs)")]
        time: String,
    }
    let rows = floors.iter().map(|f| {
        let (floor, per_run, missed, caught_by) = match &f.result {
            FloorResult::Floor {
                bytes_per_call,
                missed_bytes_per_call,
                caught_by,
                operations,
                bytes_per_run,
            } => (
                match missed_bytes_per_call {
                    None => format!("<= {}/call", Bytes(*bytes_per_call)),
                    Some(_) => format!("{}/call", Bytes(*bytes_per_call)),
                },
                match (bytes_per_run, operations) {
                    (Some(b), Some(ops)) => format!("{} ({ops} ops)", Bytes(*b)),
                    _ => "-".to_string(),
                },
                missed_bytes_per_call.map_or("-".to_string(), |m| format!("{}/call", Bytes(m))),
                caught_by
                    .iter()
                    .map(|c| c.name())
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
            other => {
                let text = SuiteFloor {
                    result: other.clone(),
                    ..f.clone()
                }
                .summary();
                (text, "-".into(), "-".into(), "-".into())
            }
        };
        let runs: u32 = f.probes.iter().map(|p| p.runs).sum();
        Row {
            suite: f.suite.clone(),
            scale: f.scale.to_string(),
            floor,
            per_run,
            missed,
            caught_by,
            probes: format!("{} ({runs} runs)", f.probes.len()),
            time: format!(
                "{} ({})",
                format_duration(Duration::from_secs_f64(f.seconds)),
                format_duration(Duration::from_secs_f64(f.run_seconds))
            ),
        }
    });
    let mut table = tabled::Table::new(rows);
    table.with(tabled::settings::Style::sharp());
    format!(
        "detection floors at profile {}:\n{table}",
        profile.unwrap_or("default")
    )
}
