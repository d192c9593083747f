//! Replays the committed fuzz seed corpus (`fuzz/corpus/seed/`) through the
//! fuzz target's own checks on every `cargo test`, so the target's logic and
//! the seeds cannot rot between fuzzing campaigns.
//!
//! A plain `main` (harness = false in Cargo.toml): the accounting check needs
//! no other thread, not even libtest's, allocating meanwhile.

use std::path::Path;

use pyjamaz::fuzzing::check_case;
use pyjamaz::ErrorCode;

fn seed_corpus_replays_cleanly() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/seed");
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    assert!(
        entries.len() >= 16,
        "seed corpus has {} files",
        entries.len()
    );

    // The canary build leaks on purpose; everything else is still checked.
    let check_accounting = !cfg!(feature = "canary-leak");
    let mut codes = std::collections::BTreeSet::new();
    for path in &entries {
        let data = std::fs::read(path).unwrap();
        let outcome = check_case(&data, check_accounting);
        let name = path.file_name().unwrap().to_string_lossy();
        // Seed names say what they are; hold them to it.
        let expected = match name.rsplit('-').next().unwrap() {
            "valid" | "constrained" => Some(ErrorCode::Ok),
            "truncated" => Some(ErrorCode::TruncatedInput),
            "corrupt" => Some(ErrorCode::CorruptInput),
            "bomb" => Some(ErrorCode::LimitsExceeded),
            "empty" => Some(ErrorCode::EmptyInput),
            "unknown" => Some(ErrorCode::UnknownFormat),
            "options" => Some(ErrorCode::InvalidOptions),
            _ => None,
        };
        if let Some(expected) = expected {
            assert_eq!(outcome.code, expected, "{name}");
        }
        codes.insert(outcome.code.as_i32());
    }
    assert!(codes.len() >= 6, "seeds cover codes {codes:?}");
}

fn main() {
    seed_corpus_replays_cleanly();
    println!("seed_corpus_replays_cleanly ... ok");
}
