//! fuzz: leak-aware fuzzing of the Rust API (`pyjamaz_engine::optimize`),
//! the Rust twin of suites/python/fuzz_optimize.py and
//! suites/node/fuzz_optimize.js: the same input layout (so a reproducer of
//! one replays in the others), the same environment (MEMTEST_FUZZ_TIME,
//! _RUNS, _SEED, _DIR, _SUITE, _VARIANT, _INPUT_TIMEOUT, _MAX_LEN, _ORACLE,
//! _REPLAY), the same findings (`<kind>-<hash>` + `.json`) and lines out.
//! The oracle is exact and needs no collection: the test allocator's live
//! count before and after each `optimize` call (its output dropped), and a
//! count that stays up is run once more on the same input, as the helpers
//! do. The engine is a seeded mutation loop (xorshift64*). See
//! docs/fuzzing.md.

use memsuite::GLOBAL;
use pyjamaz::{optimize, Format, Metric, Options};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const INTERESTING: [u8; 8] = [0, 1, 7, 0x7F, 0x80, 0xFF, 0x3D, 0x44];

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn env_f64(name: &str, default: f64) -> f64 {
    env(name).and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// The Python target's `image_of`: a shape encoded as a valid PNG, or the
/// body as it is.
fn image_of(data: &[u8]) -> Vec<u8> {
    if data.len() < 2 || data[1] & 1 == 1 {
        return data.get(2..).unwrap_or_default().to_vec();
    }
    let mut body = data[2..].to_vec();
    body.resize(body.len().max(4), 0);
    let width = 1 + u32::from(u16::from_le_bytes([body[0], body[1]])) % 256;
    let height = 1 + u32::from(body[2]) % 4;
    let (color, channels) = [
        (image::ExtendedColorType::L8, 1),
        (image::ExtendedColorType::Rgb8, 3),
        (image::ExtendedColorType::La8, 2),
        (image::ExtendedColorType::Rgba8, 4),
    ][usize::from(body[3] % 4)];
    let pixels = if body.len() > 4 {
        &body[4..]
    } else {
        &[0x80u8][..]
    };
    let len = (width * height) as usize * channels;
    let raw: Vec<u8> = pixels.iter().copied().cycle().take(len).collect();
    let mut png = Vec::new();
    use image::codecs::png::{CompressionType, FilterType, PngEncoder};
    use image::ImageEncoder;
    PngEncoder::new_with_quality(&mut png, CompressionType::Fast, FilterType::NoFilter)
        .write_image(&raw, width, height, color)
        .expect("a well-formed image encodes");
    png
}

fn options_of(data: &[u8]) -> Options {
    let opts = data.first().copied().unwrap_or(0);
    let formats = match (opts >> 2) & 3 {
        0 => vec![],
        1 => vec![Format::Png],
        2 => vec![Format::Jpeg, Format::Webp],
        _ => vec![Format::Png, Format::Webp],
    };
    Options {
        metric: if opts & 3 == 1 {
            Metric::None
        } else {
            Metric::Ssim
        },
        formats,
        ..Options::default()
    }
}

/// One input through the API; its label (the error code, or 0 for ok) and
/// the allocations it left live (0 without the oracle).
fn run_one(data: &[u8], oracle: bool) -> (i32, i64) {
    let image = image_of(data);
    let options = options_of(data);
    let before = GLOBAL.snapshot().live_allocations as i64;
    let label = match optimize(&image, &options) {
        Ok(out) => {
            drop(out);
            0
        }
        Err(err) => err.code() as i32,
    };
    let left = if oracle {
        GLOBAL.snapshot().live_allocations as i64 - before
    } else {
        0
    };
    (label, left)
}

struct Mutator {
    state: u64,
    corpus: Vec<Vec<u8>>,
    labels: Vec<i32>,
    max_len: usize,
}

impl Mutator {
    fn below(&mut self, n: usize) -> usize {
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        (self.state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) as usize % n.max(1)
    }

    fn next(&mut self) -> Vec<u8> {
        let pick = self.below(self.corpus.len());
        let mut d = self.corpus[pick].clone();
        for _ in 0..1 + self.below(4) {
            if d.is_empty() {
                d.push(self.below(256) as u8);
                continue;
            }
            let i = self.below(d.len());
            match self.below(8) {
                0 => d[i] ^= 1 << self.below(8),
                1 => d[i] = self.below(256) as u8,
                2 => d[i] = INTERESTING[self.below(INTERESTING.len())],
                // Arithmetic: a length, a dimension, a count one step off.
                7 => {
                    let step = 1 + self.below(16) as u8;
                    d[i] = if self.below(2) == 1 {
                        d[i].wrapping_add(step)
                    } else {
                        d[i].wrapping_sub(step)
                    };
                }
                3 => {
                    let n = 1 + self.below(8);
                    let ins: Vec<u8> = (0..n).map(|_| self.below(256) as u8).collect();
                    d.splice(i..i, ins);
                }
                4 if d.len() > 1 => {
                    let n = 1 + self.below(16.min(d.len() - i));
                    d.drain(i..i + n);
                }
                5 => {
                    let pick = self.below(self.corpus.len());
                    let other = self.corpus[pick].clone();
                    if !other.is_empty() {
                        let j = self.below(other.len());
                        let n = 1 + self.below(64);
                        let part = other[j..(j + n).min(other.len())].to_vec();
                        d.splice(i..i, part);
                    }
                }
                _ => d.truncate(i + 1),
            }
        }
        d.truncate(self.max_len);
        d
    }

    fn keep(&mut self, data: Vec<u8>, label: i32) {
        if !self.labels.contains(&label) {
            self.labels.push(label);
            self.corpus.push(data);
        }
    }
}

fn seeds() -> Vec<Vec<u8>> {
    let mut out = vec![
        [&[0u8, 0, 16, 0, 3, 3][..], &(0..64).collect::<Vec<u8>>()].concat(),
        [&[4u8, 0, 40, 0, 1, 1][..], &(0..32).collect::<Vec<u8>>()].concat(),
        vec![0, 0, 9, 0, 0, 2, 0x10, 0xF0],
    ];
    if let Some(dir) = env("MEMTEST_FIXTURES") {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        files.sort();
        for f in files {
            if let Ok(bytes) = std::fs::read(&f) {
                if f.is_file() && bytes.len() <= 4096 {
                    out.push([&[0u8, 1][..], &bytes].concat());
                }
            }
        }
    }
    out
}

fn hex_digest(data: &[u8]) -> String {
    // FNV-1a, 48 bits: a stable file name, not a security property.
    let h = data.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3)
    });
    format!("{:012x}", h & 0xFFFF_FFFF_FFFF)
}

fn save(dir: &Path, kind: &str, data: &[u8], figure: f64, unit: &str, seed: u64) -> PathBuf {
    let path = dir.join(format!("{kind}-{}", hex_digest(data)));
    let _ = std::fs::write(&path, data);
    let opt = |name: &str| env(name).map_or("null".into(), |v| format!("{v:?}"));
    let meta = format!(
        "{{\n \"kind\": \"{kind}\",\n \"figure\": {figure},\n \"unit\": \"{unit}\",\n \"seed\": {seed},\n \"bytes\": {},\n \"suite\": {},\n \"variant\": {}\n}}\n",
        data.len(),
        opt("MEMTEST_FUZZ_SUITE"),
        opt("MEMTEST_FUZZ_VARIANT"),
    );
    let _ = std::fs::write(format!("{}.json", path.display()), meta);
    println!("FUZZ finding {kind}: {figure} {unit}: {}", path.display());
    path
}

fn report(name: &str, value: impl std::fmt::Display) {
    println!("MEMTEST {name}={value}");
}

/// Saves the input that outlived the per-input timeout and ends the process.
///
/// Returns once the thread runs its loop. Starting a thread is not done when
/// `spawn` returns: the new thread allocates and frees through the counted
/// allocator as it starts (measured: +4 live at `spawn`, -1 some time
/// later). Had that overlapped the first judged input, the oracle would see
/// it as the input's; it once did, and saved a clean seed as a "leak" that
/// replay could not repeat.
fn watchdog(dir: PathBuf, started_ms: Arc<AtomicU64>, timeout: Duration, seed: u64) {
    let now_ms = || {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis() as u64
    };
    let (up, running) = std::sync::mpsc::sync_channel::<()>(1);
    std::thread::spawn(move || loop {
        let _ = up.try_send(());
        std::thread::sleep(Duration::from_millis(50));
        let s = started_ms.load(Relaxed);
        if s > 0 && now_ms().saturating_sub(s) > timeout.as_millis() as u64 {
            let data = std::fs::read(dir.join(".current")).unwrap_or_default();
            save(
                &dir,
                "hang",
                &data,
                timeout.as_secs_f64(),
                "seconds (per-input timeout)",
                seed,
            );
            report("fuzz_findings", 1);
            let _ = std::fs::remove_file(dir.join(".current"));
            let _ = std::io::stdout().flush();
            std::process::exit(1);
        }
    });
    let _ = running.recv();
}

fn main() -> std::process::ExitCode {
    let oracle = env("MEMTEST_FUZZ_ORACLE").as_deref() != Some("0");
    let name = env("MEMTEST_FUZZ_SUITE").unwrap_or_else(|| "rust-fuzz".into());
    let dir =
        PathBuf::from(env("MEMTEST_FUZZ_DIR").unwrap_or_else(|| format!(".memtest/fuzz/{name}")));
    std::fs::create_dir_all(&dir).expect("the findings folder can be made");
    let seed = env_f64("MEMTEST_FUZZ_SEED", 0.0) as u64;
    let started_ms = Arc::new(AtomicU64::new(0));
    let timeout = Duration::from_secs_f64(env_f64("MEMTEST_FUZZ_INPUT_TIMEOUT", 10.0));
    // First, so that its start is over before anything is counted.
    watchdog(dir.clone(), started_ms.clone(), timeout, seed);
    let seeds = seeds();
    for s in &seeds {
        run_one(s, false); // warm-up: one-time allocations first
    }
    let current = dir.join(".current");
    let judge = |data: &[u8]| -> (i32, i64) {
        // The input being run survives a crash of this process.
        let _ = std::fs::write(&current, data);
        let ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis() as u64;
        started_ms.store(ms, Relaxed);
        let (label, left) = run_one(data, oracle);
        // Again: a lazy cache fills once, a leak leaves memory every time.
        let left = if left > 0 {
            run_one(data, oracle).1
        } else {
            left
        };
        started_ms.store(0, Relaxed);
        (label, left)
    };
    let t0 = Instant::now();
    if let Some(replay) = env("MEMTEST_FUZZ_REPLAY") {
        let data = std::fs::read(&replay).expect("the reproducer can be read");
        println!("FUZZ replay {replay} ({} bytes)", data.len());
        let (_, left) = judge(&data);
        report("fuzz_execs", 1);
        report("native_leaks", left.max(0));
        if left > 0 {
            eprintln!("FAIL fuzz: {replay} still fails (leak: {left} allocations left live)");
            return std::process::ExitCode::FAILURE;
        }
        println!("TEST PASSED");
        return std::process::ExitCode::SUCCESS;
    }
    let scale = env_f64("MEMTEST_SCALE", 1.0);
    let budget = Duration::from_secs_f64(env_f64("MEMTEST_FUZZ_TIME", (30.0 * scale).max(20.0)));
    let runs = env_f64("MEMTEST_FUZZ_RUNS", 0.0) as u64;
    let mut mutator = Mutator {
        state: seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1,
        corpus: seeds,
        labels: Vec::new(),
        max_len: env_f64("MEMTEST_FUZZ_MAX_LEN", 4096.0) as usize,
    };
    println!(
        "FUZZ engine=builtin seed={seed} dir={} oracle={}",
        dir.display(),
        if oracle { "on" } else { "off" }
    );
    let (mut execs, mut leaked, mut findings) = (0u64, 0i64, 0u32);
    let pending: Vec<Vec<u8>> = mutator.corpus.clone();
    let mut pending = pending.into_iter();
    loop {
        if (runs > 0 && execs >= runs) || (execs % 16 == 0 && t0.elapsed() >= budget) {
            break;
        }
        let data = pending.next().unwrap_or_else(|| mutator.next());
        let (label, left) = judge(&data);
        execs += 1;
        if left > 0 {
            save(
                &dir,
                "leak",
                &data,
                left as f64,
                "allocations left live",
                seed,
            );
            report("fuzz_finding_leak", left);
            (leaked, findings) = (left, 1);
            break;
        }
        mutator.keep(data, label);
    }
    report("fuzz_execs", execs);
    report(
        "fuzz_execs_per_s",
        format!("{:.1}", execs as f64 / t0.elapsed().as_secs_f64()),
    );
    report("fuzz_findings", findings);
    report("native_leaks", leaked);
    let _ = std::fs::remove_file(&current);
    if findings > 0 {
        eprintln!("FAIL fuzz: {findings} finding(s) in {}", dir.display());
        return std::process::ExitCode::FAILURE;
    }
    println!("TEST PASSED");
    std::process::ExitCode::SUCCESS
}
