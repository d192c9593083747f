//! Pyjamaz's side of `scripts/bench-jpeg.sh`: the JPEG path against Pillow
//! (libjpeg-turbo) on the same photographs, in one run.
//!
//!     jpeg_bench time DIR REPS   decode + one q85 re-encode of DIR/in/*.jpg,
//!                                REPS times each; appends "name<TAB>decode
//!                                ms<TAB>total ms" per repetition to
//!                                DIR/ours-times.tsv, writes DIR/out/NAME.ours.jpg
//!     jpeg_bench report DIR      the markdown tables: medians of both sides'
//!                                times, output bytes, and SSIM against the
//!                                input, both outputs measured by the engine;
//!                                then the time split into decode and encode
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

/// The timed work: decode the input, re-encode it once at quality 85.
/// Returns the output and the decode's share of the time, in ms.
fn reencode(input: &[u8], start: Instant) -> (Vec<u8>, f64) {
    let image = decode::decode(Format::Jpeg, input).expect("decoding the input");
    let decode_ms = start.elapsed().as_secs_f64() * 1e3;
    let pixels = Pixels::new(&image);
    (encode::jpeg(&pixels, QUALITY).expect("encoding"), decode_ms)
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
            let start = Instant::now();
            let (bytes, decode_ms) = std::hint::black_box(reencode(&input, start));
            let total_ms = start.elapsed().as_secs_f64() * 1e3;
            out = bytes;
            writeln!(times, "{name}\t{decode_ms:.4}\t{total_ms:.4}").expect("writing a time");
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

/// Medians per image of a times file written by either side: (decode ms,
/// encode ms, total ms). The encode's median is of total - decode per run.
fn medians(file: &Path) -> BTreeMap<String, (f64, f64, f64)> {
    let text = std::fs::read_to_string(file)
        .unwrap_or_else(|err| panic!("reading {}: {err}", file.display()));
    let mut all: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split('\t').collect();
        let [name, decode, total] = fields[..] else {
            panic!("expected name<TAB>decode ms<TAB>total ms, got {line:?}");
        };
        let ms = |s: &str| s.parse::<f64>().expect("a time in ms");
        all.entry(name.to_owned())
            .or_default()
            .push((ms(decode), ms(total)));
    }
    all.into_iter()
        .map(|(name, runs)| {
            let decode = median(runs.iter().map(|r| r.0).collect());
            let encode = median(runs.iter().map(|r| r.1 - r.0).collect());
            let total = median(runs.iter().map(|r| r.1).collect());
            (name, (decode, encode, total))
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
        let (t_ours, t_pillow) = (ours_ms[&name].2, pillow_ms[&name].2);
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
    println!("\nwhere the time goes (medians, ms):\n");
    println!(
        "| image | decode ours | decode Pillow | ratio | encode ours | encode Pillow | ratio |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    let (mut decode_ratios, mut encode_ratios) = (Vec::new(), Vec::new());
    for (name, &(d_ours, e_ours, _)) in &ours_ms {
        let (d_pillow, e_pillow, _) = pillow_ms[name];
        decode_ratios.push(d_ours / d_pillow);
        encode_ratios.push(e_ours / e_pillow);
        println!(
            "| {name} | {d_ours:.2} | {d_pillow:.2} | {:.2} | {e_ours:.2} | {e_pillow:.2} | {:.2} |",
            d_ours / d_pillow,
            e_ours / e_pillow
        );
    }
    println!(
        "\ngeometric mean of the ratios (ours / Pillow): decode {:.2}, encode {:.2}",
        geomean(&decode_ratios),
        geomean(&encode_ratios)
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
