//! What memtest hands every suite through the environment: the fixture
//! folder (`MEMTEST_FIXTURES`) and the iteration multiplier
//! (`MEMTEST_SCALE`). Read once, validated, and failing with a message that
//! says which variable or file is wrong, so a suite never runs against
//! inputs other than the ones the runner generated. Anything a project adds
//! (Pyjamaz: the path of its cdylib) is read by its [`crate::Extra`] set-up.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub const FIXTURES_ENV: &str = "MEMTEST_FIXTURES";
pub const SCALE_ENV: &str = "MEMTEST_SCALE";
/// A soak by duration: the suite runs its tests again and again until this
/// many milliseconds have passed.
pub const DURATION_ENV: &str = "MEMTEST_DURATION_MS";

/// Bounds on `MEMTEST_SCALE`: a scale outside them is a typo, not a wish.
pub const MIN_SCALE: f64 = 0.001;
pub const MAX_SCALE: f64 = 1000.0;

#[derive(Debug, thiserror::Error)]
pub enum EnvError {
    #[error("{FIXTURES_ENV} is not set: run the suite through memtest (`cargo run -p runner -- run <suite>`), or generate the fixtures with `cargo run -p runner -- fixtures` and point {FIXTURES_ENV} at .memtest/fixtures")]
    FixturesUnset,
    #[error("fixture {name} cannot be read from {}", path.display())]
    FixtureUnreadable {
        name: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("fixture {name} is empty at {}", path.display())]
    FixtureEmpty { name: &'static str, path: PathBuf },
    #[error("fixture {name} was not loaded by this suite (add it to the suite's fixture list)")]
    FixtureNotLoaded { name: String },
    #[error("{SCALE_ENV}={value:?} is not a number between {MIN_SCALE} and {MAX_SCALE}")]
    BadScale { value: String },
    #[error("{DURATION_ENV}={value:?} is not a positive whole number of milliseconds")]
    BadDuration { value: String },
}

/// The fixtures a suite asked for, read into memory before any test takes its
/// baseline (so their buffers are not counted as allocations of a test).
#[derive(Debug, Default)]
pub struct Fixtures {
    files: BTreeMap<&'static str, Vec<u8>>,
    /// Where they came from, for the suite's header line.
    pub origin: String,
}

impl Fixtures {
    /// Reads `names` from the folder in `MEMTEST_FIXTURES`. There is no
    /// fallback: a suite only ever runs on the runner's fixtures. A suite
    /// that reads none does not need the variable.
    pub fn load(names: &[&'static str]) -> Result<Fixtures, EnvError> {
        match std::env::var_os(FIXTURES_ENV) {
            Some(dir) if !dir.is_empty() => Fixtures::read_dir(Path::new(&dir), names),
            _ if names.is_empty() => Ok(Fixtures {
                files: BTreeMap::new(),
                origin: "none".to_string(),
            }),
            _ => Err(EnvError::FixturesUnset),
        }
    }

    /// Reads `names` from `dir`; every one must exist and be non-empty.
    pub fn read_dir(dir: &Path, names: &[&'static str]) -> Result<Fixtures, EnvError> {
        let mut files = BTreeMap::new();
        for &name in names {
            let path = dir.join(name);
            let bytes = std::fs::read(&path).map_err(|source| EnvError::FixtureUnreadable {
                name,
                path: path.clone(),
                source,
            })?;
            if bytes.is_empty() {
                return Err(EnvError::FixtureEmpty { name, path });
            }
            files.insert(name, bytes);
        }
        Ok(Fixtures {
            files,
            origin: dir.display().to_string(),
        })
    }

    /// The bytes of a loaded fixture.
    pub fn get(&self, name: &str) -> Result<&[u8], EnvError> {
        self.files
            .get(name)
            .map(Vec::as_slice)
            .ok_or_else(|| EnvError::FixtureNotLoaded {
                name: name.to_string(),
            })
    }
}

/// Parses `MEMTEST_SCALE` (unset = 1).
pub fn scale_from_env() -> Result<f64, EnvError> {
    match std::env::var(SCALE_ENV) {
        Err(_) => Ok(1.0),
        Ok(text) => parse_scale(&text),
    }
}

/// Parses `MEMTEST_DURATION_MS` (unset or empty: not a soak).
pub fn duration_from_env() -> Result<Option<std::time::Duration>, EnvError> {
    match std::env::var(DURATION_ENV) {
        Err(_) => Ok(None),
        Ok(text) if text.trim().is_empty() => Ok(None),
        Ok(text) => parse_duration_ms(&text).map(Some),
    }
}

fn parse_duration_ms(text: &str) -> Result<std::time::Duration, EnvError> {
    match text.trim().parse::<u64>() {
        Ok(ms) if ms > 0 => Ok(std::time::Duration::from_millis(ms)),
        _ => Err(EnvError::BadDuration {
            value: text.to_string(),
        }),
    }
}

fn parse_scale(text: &str) -> Result<f64, EnvError> {
    match text.trim().parse::<f64>() {
        Ok(value) if (MIN_SCALE..=MAX_SCALE).contains(&value) => Ok(value),
        _ => Err(EnvError::BadScale {
            value: text.to_string(),
        }),
    }
}

/// `base` iterations times `scale`, rounded, and never below one, so every
/// loop runs at least once at any scale.
pub fn scaled(base: u32, scale: f64) -> u32 {
    let value = (f64::from(base) * scale).round();
    if value < 1.0 {
        1
    } else if value > f64::from(u32::MAX) {
        u32::MAX
    } else {
        value as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_parses_and_rejects_nonsense() {
        assert_eq!(parse_scale("0.1").unwrap(), 0.1);
        assert_eq!(parse_scale(" 2 ").unwrap(), 2.0);
        for bad in ["", "fast", "0", "-1", "NaN", "1e9"] {
            assert!(
                matches!(parse_scale(bad), Err(EnvError::BadScale { .. })),
                "{bad:?} accepted"
            );
        }
    }

    #[test]
    fn a_soak_duration_parses_and_rejects_nonsense() {
        assert_eq!(
            parse_duration_ms(" 60000 ").unwrap(),
            std::time::Duration::from_secs(60)
        );
        for bad in ["0", "-5", "1.5", "1m", ""] {
            assert!(
                matches!(parse_duration_ms(bad), Err(EnvError::BadDuration { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn scaled_rounds_and_never_reaches_zero() {
        assert_eq!(scaled(10_000, 1.0), 10_000);
        assert_eq!(scaled(10_000, 0.1), 1_000);
        assert_eq!(scaled(7, 0.001), 1);
        assert_eq!(scaled(3, 0.5), 2);
        assert_eq!(scaled(u32::MAX, 1000.0), u32::MAX);
    }

    #[test]
    fn missing_fixture_names_the_file() {
        let dir = std::env::temp_dir().join(format!("memtest-harness-env-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("present.png"), b"x").unwrap();
        std::fs::write(dir.join("empty.png"), b"").unwrap();
        let missing = Fixtures::read_dir(&dir, &["present.png", "absent.png"]).unwrap_err();
        assert!(
            missing.to_string().contains("fixture absent.png"),
            "{missing}"
        );
        let empty = Fixtures::read_dir(&dir, &["empty.png"]).unwrap_err();
        assert!(matches!(
            empty,
            EnvError::FixtureEmpty {
                name: "empty.png",
                ..
            }
        ));
        let loaded = Fixtures::read_dir(&dir, &["present.png"]).unwrap();
        assert_eq!(loaded.get("present.png").unwrap(), b"x");
        assert!(loaded.get("other.png").is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
