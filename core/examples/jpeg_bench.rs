//! Pyjamaz's side of `scripts/bench-jpeg.sh`: the JPEG path against Pillow
//! (libjpeg-turbo) on the same photographs, in one run.
//!
//!     jpeg_bench time DIR REPS   decode + one q85 re-encode of DIR/in/*.jpg,
//!                                REPS times each; appends "name<TAB>decode
//!                                ms<TAB>total ms<TAB>decode CPU ms<TAB>total
//!                                CPU ms" per repetition to DIR/ours-times.tsv,
//!                                writes DIR/out/NAME.ours.jpg
//!     jpeg_bench report DIR      the markdown tables: medians of both sides'
//!                                times, output bytes, and SSIM against the
//!                                input, both outputs measured by the engine;
//!                                then the thread CPU time, split into decode
//!                                and encode (on a loaded machine wall time is
//!                                mostly waiting for a core)
//!
//! The timed work is what `optimize` does for its JPEG candidate, minus the
//! other formats: `decode::decode` (limits, truncation walk, pixels),
//! `Pixels::new` and `encode::jpeg` at quality 85, single-threaded. The script
//! alternates rounds of Pillow and of this, so drift of a shared machine hits
//! both sides alike, and medians are taken over all rounds.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use pyjamaz::decode;
use pyjamaz::encode::{self, Pixels};
use pyjamaz::ssim::{self, Luma};
use pyjamaz::Format;

const QUALITY: u8 = 85;

fn inputs(dir: &Path) -> Vec<(String, PathBuf)> {
    let mut found: Vec<_> = std::fs::read_dir(dir.join("in"))
        .expect("DIR/in exists (run scripts/bench-jpeg.sh)")
        .map(|e| e.expect("reading DIR/in").path())
        .filter(|p| p.extension().is_some_and(|e| e == "jpg"))
        .map(|p| (p.file_stem().unwrap().to_string_lossy().into_owned(), p))
        .collect();
    found.sort();
    found
}

/// This thread's CPU time in ms (what Python's `time.thread_time` reads).
#[cfg(target_os = "linux")]
fn cpu_ms() -> f64 {
    #[repr(C)]
    struct Timespec {
        sec: i64,
        nsec: i64,
    }
    extern "C" {
        fn clock_gettime(clock: i32, ts: *mut Timespec) -> i32;
    }
    const CLOCK_THREAD_CPUTIME_ID: i32 = 3;
    let mut ts = Timespec { sec: 0, nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec for the call.
    let rc = unsafe { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    ts.sec as f64 * 1e3 + ts.nsec as f64 / 1e6
}

#[cfg(not(target_os = "linux"))]
fn cpu_ms() -> f64 {
    f64::NAN
}

/// The timed work: decode the input, re-encode it once at quality 85.
/// Returns the output and the times taken: decode and total, wall clock and
/// thread CPU, in ms.
fn reencode(input: &[u8]) -> (Vec<u8>, [f64; 4]) {
    let (start, cpu_start) = (Instant::now(), cpu_ms());
    let image = decode::decode(Format::Jpeg, input).expect("decoding the input");
    let (decoded, cpu_decoded) = (start.elapsed().as_secs_f64() * 1e3, cpu_ms());
    let pixels = Pixels::new(&image);
    let out = encode::jpeg(&pixels, QUALITY).expect("encoding");
    let (end, cpu_end) = (start.elapsed().as_secs_f64() * 1e3, cpu_ms());
    let ms = [decoded, end, cpu_decoded - cpu_start, cpu_end - cpu_start];
    (out, ms)
}

fn time(dir: &Path, reps: usize) {
    use std::io::Write;
    std::fs::create_dir_all(dir.join("out")).expect("creating DIR/out");
    let mut times = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("ours-times.tsv"))
        .expect("opening ours-times.tsv");
    for (name, path) in inputs(dir) {
        let input = std::fs::read(&path).expect("reading an input");
        let mut out = Vec::new();
        for _ in 0..reps {
            let (bytes, [decode, total, cpu_decode, cpu_total]) =
                std::hint::black_box(reencode(&input));
            out = bytes;
            writeln!(
                times,
                "{name}\t{decode:.4}\t{total:.4}\t{cpu_decode:.4}\t{cpu_total:.4}"
            )
            .expect("writing a time");
        }
        std::fs::write(dir.join("out").join(format!("{name}.ours.jpg")), out)
            .expect("writing our output");
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    if v.len().is_multiple_of(2) {
        (v[mid - 1] + v[mid]) / 2.0
    } else {
        v[mid]
    }
}

/// Medians of one image's runs, in ms.
#[derive(Clone, Copy)]
struct Times {
    wall: f64,
    cpu: f64,
    cpu_decode: f64,
    /// Median of total - decode per run.
    cpu_encode: f64,
}

/// Medians per image of a times file written by either side.
fn medians(file: &Path) -> BTreeMap<String, Times> {
    let text = std::fs::read_to_string(file)
        .unwrap_or_else(|err| panic!("reading {}: {err}", file.display()));
    let mut all: BTreeMap<String, Vec<[f64; 4]>> = BTreeMap::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split('\t').collect();
        let [name, rest @ ..] = &fields[..] else {
            panic!("empty line in {}", file.display());
        };
        let ms: Vec<f64> = rest
            .iter()
            .map(|s| s.parse().expect("a time in ms"))
            .collect();
        let run: [f64; 4] = ms.try_into().unwrap_or_else(|_| {
            panic!("expected name and 4 times, got {line:?}");
        });
        all.entry((*name).to_owned()).or_default().push(run);
    }
    all.into_iter()
        .map(|(name, runs)| {
            let of = |f: fn(&[f64; 4]) -> f64| median(runs.iter().map(f).collect());
            let times = Times {
                wall: of(|r| r[1]),
                cpu: of(|r| r[3]),
                cpu_decode: of(|r| r[2]),
                cpu_encode: of(|r| r[3] - r[2]),
            };
            (name, times)
        })
        .collect()
}

fn luma_of(bytes: &[u8]) -> Luma {
    Luma::from_image(&decode::decode(Format::Jpeg, bytes).expect("decoding an output"))
}

fn report(dir: &Path) {
    let ours_ms = medians(&dir.join("ours-times.tsv"));
    let pillow_ms = medians(&dir.join("pillow-times.tsv"));
    println!(
        "| image | px | ours ms | Pillow ms | time ratio | ours bytes | Pillow bytes | size ratio | SSIM ours | SSIM Pillow |"
    );
    println!("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    let (mut time_ratios, mut size_ratios) = (Vec::new(), Vec::new());
    for (name, path) in inputs(dir) {
        let input = std::fs::read(&path).expect("reading an input");
        let original = decode::decode(Format::Jpeg, &input).expect("decoding the input");
        let reference = Luma::from_image(&original);
        let out = |side: &str| {
            std::fs::read(dir.join("out").join(format!("{name}.{side}.jpg")))
                .expect("reading an output")
        };
        let (ours, pillow) = (out("ours"), out("pillow"));
        let ssim_ours = ssim::ssim(&reference, &luma_of(&ours));
        let ssim_pillow = ssim::ssim(&reference, &luma_of(&pillow));
        let (t_ours, t_pillow) = (ours_ms[&name].wall, pillow_ms[&name].wall);
        let time_ratio = t_ours / t_pillow;
        let size_ratio = ours.len() as f64 / pillow.len() as f64;
        time_ratios.push(time_ratio);
        size_ratios.push(size_ratio);
        println!(
            "| {name} | {}x{} | {t_ours:.2} | {t_pillow:.2} | {time_ratio:.2} | {} | {} | {size_ratio:.3} | {ssim_ours:.5} | {ssim_pillow:.5} |",
            original.width(),
            original.height(),
            ours.len(),
            pillow.len(),
        );
    }
    let geomean = |v: &[f64]| (v.iter().map(|r| r.ln()).sum::<f64>() / v.len() as f64).exp();
    println!(
        "\ngeometric mean of the ratios (ours / Pillow): time {:.2}, size {:.3}",
        geomean(&time_ratios),
        geomean(&size_ratios)
    );
    println!("\nthread CPU time, medians in ms (wall time above includes waiting for a core):\n");
    println!(
        "| image | ours | Pillow | ratio | decode ours | decode Pillow | ratio | encode ours | encode Pillow | ratio |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    let mut ratios = [Vec::new(), Vec::new(), Vec::new()];
    for (name, ours) in &ours_ms {
        let pillow = pillow_ms[name];
        let pairs = [
            (ours.cpu, pillow.cpu),
            (ours.cpu_decode, pillow.cpu_decode),
            (ours.cpu_encode, pillow.cpu_encode),
        ];
        let mut row = format!("| {name} |");
        for (i, (a, b)) in pairs.into_iter().enumerate() {
            ratios[i].push(a / b);
            row += &format!(" {a:.2} | {b:.2} | {:.2} |", a / b);
        }
        println!("{row}");
    }
    println!(
        "\ngeometric mean of the CPU time ratios (ours / Pillow): total {:.2}, decode {:.2}, encode {:.2}",
        geomean(&ratios[0]),
        geomean(&ratios[1]),
        geomean(&ratios[2])
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["time", dir, reps] => time(Path::new(dir), reps.parse().expect("REPS is a count")),
        ["report", dir] => report(Path::new(dir)),
        _ => {
            eprintln!("usage: jpeg_bench time DIR REPS | jpeg_bench report DIR");
            std::process::exit(2);
        }
    }
}
