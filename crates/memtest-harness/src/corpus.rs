//! Corpus mode (docs/protocol.md, "Corpus mode"): the folder of inputs
//! memtest hands a suite in `MEMTEST_CORPUS`, walked lazily, and a tally of
//! what each file did.
//!
//! [`CorpusFiles`] yields every regular file below a folder, depth first,
//! holding one open `read_dir` per level of depth and never a list of the
//! folder's paths, so a folder of a million files costs what a folder of ten
//! does; before yielding a file it writes its path to `MEMTEST_INPUT_FILE`,
//! so a suite killed by a signal or its timeout is reported with the file it
//! was on. [`Tally`] counts each file's [`Outcome`] and names the first few
//! leaks and crashes; [`Tally::report`] prints the counts as `MEMTEST
//! corpus_*` figures, [`Tally::finish`] fails on any leak or crash (decode
//! errors of broken files are expected: counted, never failed).

use std::fs::ReadDir;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Instant;

pub const CORPUS_ENV: &str = "MEMTEST_CORPUS";
/// The file memtest reads the input a killed suite was on from.
pub const INPUT_FILE_ENV: &str = "MEMTEST_INPUT_FILE";

#[derive(Debug, thiserror::Error)]
pub enum CorpusError {
    #[error("{CORPUS_ENV} is not set: give the suite `corpus = \"DIR\"` in memtest.toml, or run it with `memtest run --corpus DIR`")]
    Unset,
    #[error("{CORPUS_ENV}={} is not a folder", path.display())]
    NotAFolder { path: PathBuf },
    #[error("cannot read the corpus at {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{leaks} leaks and {crashes} crashes in {files} corpus files, limit 0")]
    Failed {
        leaks: u64,
        crashes: u64,
        files: u64,
    },
}

/// The folder in `MEMTEST_CORPUS`.
pub fn corpus_dir() -> Result<PathBuf, CorpusError> {
    let dir = std::env::var_os(CORPUS_ENV)
        .filter(|v| !v.is_empty())
        .ok_or(CorpusError::Unset)?;
    let path = PathBuf::from(dir);
    if !path.is_dir() {
        return Err(CorpusError::NotAFolder { path });
    }
    Ok(path)
}

/// Every regular file below a folder, depth first, in the order the file
/// system lists them; symbolic links are not followed. Each file's path is
/// written to `MEMTEST_INPUT_FILE` (when memtest set it) before it is
/// yielded, and that file removed when the walk is dropped.
pub struct CorpusFiles {
    stack: Vec<ReadDir>,
    input_file: Option<PathBuf>,
}

impl CorpusFiles {
    pub fn new(root: &Path) -> Result<CorpusFiles, CorpusError> {
        let input_file = std::env::var_os(INPUT_FILE_ENV)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from);
        Self::saying_input_to(root, input_file)
    }

    /// A walk that writes each file's path to `input_file` (or nowhere).
    pub fn saying_input_to(
        root: &Path,
        input_file: Option<PathBuf>,
    ) -> Result<CorpusFiles, CorpusError> {
        let top = std::fs::read_dir(root).map_err(|source| CorpusError::Read {
            path: root.to_path_buf(),
            source,
        })?;
        Ok(CorpusFiles {
            stack: vec![top],
            input_file,
        })
    }

    /// Overwrites the input file with `path`: done before the file is
    /// worked on, so a crash of the library cannot undo it. Saying where the
    /// suite was is a courtesy: a failed write does not stop the walk.
    fn say_input(&self, path: &Path) {
        if let Some(file) = &self.input_file {
            let mut line = path.as_os_str().as_encoded_bytes().to_vec();
            line.push(b'\n');
            let _ = std::fs::write(file, line);
        }
    }
}

impl Drop for CorpusFiles {
    fn drop(&mut self) {
        if let Some(file) = &self.input_file {
            let _ = std::fs::remove_file(file);
        }
    }
}

impl Iterator for CorpusFiles {
    type Item = Result<PathBuf, CorpusError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let entry = match self.stack.last_mut()?.next() {
                None => {
                    self.stack.pop();
                    continue;
                }
                Some(entry) => entry,
            };
            let read = |path: PathBuf| move |source| CorpusError::Read { path, source };
            let entry = match entry {
                Ok(entry) => entry,
                Err(source) => {
                    return Some(Err(CorpusError::Read {
                        path: PathBuf::new(),
                        source,
                    }))
                }
            };
            let path = entry.path();
            let kind = match entry.file_type() {
                Ok(kind) => kind,
                Err(e) => return Some(Err(read(path)(e))),
            };
            if kind.is_dir() {
                match std::fs::read_dir(&path) {
                    Ok(dir) => self.stack.push(dir),
                    Err(e) => return Some(Err(read(path)(e))),
                }
            } else if kind.is_file() {
                self.say_input(&path);
                return Some(Ok(path));
            }
        }
    }
}

/// What one file did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    /// The error the library is expected to give for a bad file.
    DecodeError,
    /// Memory left live after the call.
    Leak,
    /// Any other failure: an unexpected error, a panic, a wrong result.
    Crash,
}

impl Outcome {
    pub const ALL: [Outcome; 4] = [
        Outcome::Ok,
        Outcome::DecodeError,
        Outcome::Leak,
        Outcome::Crash,
    ];

    /// The figure counting it.
    pub fn figure(self) -> &'static str {
        match self {
            Outcome::Ok => "corpus_ok",
            Outcome::DecodeError => "corpus_decode_errors",
            Outcome::Leak => "corpus_leaks",
            Outcome::Crash => "corpus_crashes",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::DecodeError => "decode_error",
            Outcome::Leak => "leak",
            Outcome::Crash => "crash",
        }
    }
}

/// Counts of each outcome, and the first `named` leaks and crashes printed
/// as they happen; nothing per file beyond that.
#[derive(Debug)]
pub struct Tally {
    counts: [u64; 4],
    named: u64,
    started: Instant,
}

impl Default for Tally {
    fn default() -> Self {
        Tally::new(20)
    }
}

impl Tally {
    pub fn new(named: u64) -> Tally {
        Tally {
            counts: [0; 4],
            named,
            started: Instant::now(),
        }
    }

    pub fn count(&self, outcome: Outcome) -> u64 {
        self.counts[outcome as usize]
    }

    pub fn files(&self) -> u64 {
        self.counts.iter().sum()
    }

    pub fn record(&mut self, path: &Path, outcome: Outcome, detail: &str) {
        self.counts[outcome as usize] += 1;
        if !matches!(outcome, Outcome::Leak | Outcome::Crash) {
            return;
        }
        let shown = self.count(Outcome::Leak) + self.count(Outcome::Crash);
        if shown <= self.named {
            println!("corpus {}: {}: {detail}", outcome.name(), path.display());
        } else if shown == self.named + 1 {
            println!(
                "corpus: more leaks and crashes than {}; counting the rest",
                self.named
            );
        }
    }

    /// The counts as `MEMTEST corpus_*` figures, and the files per second.
    pub fn report(&self) {
        println!("MEMTEST corpus_files={}", self.files());
        for outcome in Outcome::ALL {
            println!("MEMTEST {}={}", outcome.figure(), self.count(outcome));
        }
        let seconds = self.started.elapsed().as_secs_f64();
        let rate = if seconds > 0.0 {
            self.files() as f64 / seconds
        } else {
            0.0
        };
        println!("MEMTEST corpus_files_per_s={rate:.1}");
    }

    /// `Err` on any leak or crash, or when no file was seen.
    pub fn finish(&self) -> Result<(), CorpusError> {
        let (leaks, crashes) = (self.count(Outcome::Leak), self.count(Outcome::Crash));
        if leaks + crashes == 0 && self.files() > 0 {
            return Ok(());
        }
        Err(CorpusError::Failed {
            leaks,
            crashes,
            files: self.files(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_nested_folders_and_skips_links() {
        let dir = std::env::temp_dir().join(format!("memtest-corpus-walk-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("a/b")).unwrap();
        std::fs::create_dir_all(dir.join("empty")).unwrap();
        for f in ["top", "a/one", "a/b/two", "a/b/three"] {
            std::fs::write(dir.join(f), f).unwrap();
        }
        std::os::unix::fs::symlink(dir.join("a"), dir.join("link")).unwrap();
        let mut found: Vec<String> = CorpusFiles::new(&dir)
            .unwrap()
            .map(|p| p.unwrap().strip_prefix(&dir).unwrap().display().to_string())
            .collect();
        found.sort();
        assert_eq!(found, ["a/b/three", "a/b/two", "a/one", "top"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn each_file_is_said_before_it_is_yielded_and_the_saying_goes_with_the_walk() {
        let dir = std::env::temp_dir().join(format!("memtest-corpus-say-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("in")).unwrap();
        for f in ["in/one", "in/two"] {
            std::fs::write(dir.join(f), f).unwrap();
        }
        let said = dir.join("current.input");
        let mut walk = CorpusFiles::saying_input_to(&dir.join("in"), Some(said.clone())).unwrap();
        for _ in 0..2 {
            let path = walk.next().unwrap().unwrap();
            let text = std::fs::read_to_string(&said).unwrap();
            assert_eq!(text, format!("{}\n", path.display()));
        }
        assert!(walk.next().is_none());
        drop(walk);
        assert!(!said.exists(), "a finished walk leaves no input behind");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_tally_fails_on_leaks_and_crashes_only() {
        let mut tally = Tally::new(1);
        assert!(tally.finish().is_err(), "no files proves nothing");
        tally.record(Path::new("a"), Outcome::Ok, "");
        tally.record(Path::new("b"), Outcome::DecodeError, "TRUNCATED");
        assert!(tally.finish().is_ok());
        tally.record(Path::new("c"), Outcome::Leak, "1 block");
        tally.record(Path::new("d"), Outcome::Crash, "panic");
        assert_eq!((tally.files(), tally.count(Outcome::Crash)), (4, 1));
        let err = tally.finish().unwrap_err().to_string();
        assert_eq!(err, "1 leaks and 1 crashes in 4 corpus files, limit 0");
    }
}
