//! Compiles `tests/c/abi_check.c` against `include/pyjamaz.h` and the built
//! cdylib, runs it, and checks what C sees against what Rust declares: struct
//! sizes and field offsets, the error code for each bad input, and a real
//! optimization. If the header and the Rust ABI drift apart, this fails.

mod common;

use std::collections::HashMap;
use std::mem::{offset_of, size_of};
use std::path::{Path, PathBuf};
use std::process::Command;

use image::ImageFormat;
use pyjamaz::ffi::{PyjamazAllocStats, PyjamazOptions, PyjamazResult};
use pyjamaz::ErrorCode;

const MANIFEST_DIR: &str = env!("CARGO_MANIFEST_DIR");

/// target/<profile>/, the folder the cdylib is uplifted to.
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test exe path");
    // target/<profile>/deps/c_header-<hash>
    exe.parent()
        .and_then(Path::parent)
        .expect("profile dir")
        .to_path_buf()
}

/// Builds the cdylib with this test's features (a no-op when fresh: `cargo
/// test` builds only the rlib, and a stale .so would test old code), and
/// returns its path.
fn cdylib(dir: &Path) -> PathBuf {
    let mut cargo = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cargo
        .args([
            "build",
            "--quiet",
            "-p",
            "pyjamaz",
            "--lib",
            "--manifest-path",
        ])
        .arg(Path::new(MANIFEST_DIR).join("Cargo.toml"));
    if dir.file_name().is_some_and(|n| n == "release") {
        cargo.arg("--release");
    }
    if cfg!(feature = "canary-leak") {
        cargo.args(["--features", "canary-leak"]);
    }
    let status = cargo.status().expect("running cargo build");
    assert!(status.success(), "cargo build -p pyjamaz failed");
    let lib = dir.join("libpyjamaz.so");
    assert!(lib.exists(), "{} was not built", lib.display());
    lib
}

fn have_cc() -> bool {
    Command::new("cc")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn c_program_agrees_with_the_rust_abi() {
    if !have_cc() {
        eprintln!("SKIPPED c_header: no `cc` on PATH, the C ABI check did not run");
        return;
    }
    let dir = profile_dir();
    let lib = cdylib(&dir);
    let work = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("c_header");
    std::fs::create_dir_all(&work).unwrap();
    let exe = work.join("abi_check");
    let status = Command::new("cc")
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-o"])
        .arg(&exe)
        .arg(Path::new(MANIFEST_DIR).join("tests/c/abi_check.c"))
        .arg("-I")
        .arg(Path::new(MANIFEST_DIR).join("include"))
        .arg("-L")
        .arg(lib.parent().unwrap())
        .arg(format!("-Wl,-rpath,{}", lib.parent().unwrap().display()))
        .arg("-lpyjamaz")
        .status()
        .expect("running cc");
    assert!(status.success(), "compiling abi_check.c failed");

    let image = work.join("tiny.png");
    std::fs::write(
        &image,
        common::encode(&common::photo(24, 24), ImageFormat::Png),
    )
    .unwrap();
    let out = Command::new(&exe)
        .arg(&image)
        .output()
        .expect("running abi_check");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "abi_check failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let facts: HashMap<&str, &str> = stdout.lines().filter_map(|l| l.split_once('=')).collect();
    let fact = |key: &str| -> &str {
        facts
            .get(key)
            .unwrap_or_else(|| panic!("missing {key}: {stdout}"))
    };
    let num = |key: &str| -> i64 {
        fact(key)
            .parse()
            .unwrap_or_else(|_| panic!("{key} not a number"))
    };

    let layouts: [(&str, usize); 21] = [
        ("sizeof.PyjamazOptions", size_of::<PyjamazOptions>()),
        ("sizeof.PyjamazResult", size_of::<PyjamazResult>()),
        ("sizeof.PyjamazAllocStats", size_of::<PyjamazAllocStats>()),
        (
            "offsetof.PyjamazOptions.input",
            offset_of!(PyjamazOptions, input),
        ),
        (
            "offsetof.PyjamazOptions.input_len",
            offset_of!(PyjamazOptions, input_len),
        ),
        (
            "offsetof.PyjamazOptions.max_bytes",
            offset_of!(PyjamazOptions, max_bytes),
        ),
        (
            "offsetof.PyjamazOptions.max_diff",
            offset_of!(PyjamazOptions, max_diff),
        ),
        (
            "offsetof.PyjamazOptions.metric",
            offset_of!(PyjamazOptions, metric),
        ),
        (
            "offsetof.PyjamazOptions.formats",
            offset_of!(PyjamazOptions, formats),
        ),
        (
            "offsetof.PyjamazOptions.concurrency",
            offset_of!(PyjamazOptions, concurrency),
        ),
        (
            "offsetof.PyjamazResult.output",
            offset_of!(PyjamazResult, output),
        ),
        (
            "offsetof.PyjamazResult.output_len",
            offset_of!(PyjamazResult, output_len),
        ),
        (
            "offsetof.PyjamazResult.format",
            offset_of!(PyjamazResult, format),
        ),
        (
            "offsetof.PyjamazResult.diff_value",
            offset_of!(PyjamazResult, diff_value),
        ),
        (
            "offsetof.PyjamazResult.passed",
            offset_of!(PyjamazResult, passed),
        ),
        (
            "offsetof.PyjamazResult.error_code",
            offset_of!(PyjamazResult, error_code),
        ),
        (
            "offsetof.PyjamazResult.error_message",
            offset_of!(PyjamazResult, error_message),
        ),
        (
            "offsetof.PyjamazAllocStats.live_allocations",
            offset_of!(PyjamazAllocStats, live_allocations),
        ),
        (
            "offsetof.PyjamazAllocStats.live_bytes",
            offset_of!(PyjamazAllocStats, live_bytes),
        ),
        (
            "offsetof.PyjamazAllocStats.total_allocations",
            offset_of!(PyjamazAllocStats, total_allocations),
        ),
        (
            "offsetof.PyjamazAllocStats.peak_bytes",
            offset_of!(PyjamazAllocStats, peak_bytes),
        ),
    ];
    for (key, rust) in layouts {
        assert_eq!(num(key), rust as i64, "{key}: C vs Rust");
    }

    assert_eq!(fact("version"), env!("CARGO_PKG_VERSION"));
    assert_eq!(num("abi_version"), num("header_abi_version"));
    assert_eq!(num("abi_version"), i64::from(pyjamaz::ffi::ABI_VERSION));

    assert_eq!(num("ok.code"), 0);
    assert!(["jpeg", "png", "webp"].contains(&fact("ok.format")));
    assert!(num("ok.output_len") > 0);
    assert_eq!(num("ok.passed"), 1);

    let expected = [
        ("code.null_options", ErrorCode::NullPointer),
        ("code.null_input", ErrorCode::NullPointer),
        ("code.empty", ErrorCode::EmptyInput),
        ("code.unknown", ErrorCode::UnknownFormat),
        ("code.corrupt", ErrorCode::CorruptInput),
        ("code.truncated", ErrorCode::TruncatedInput),
        ("code.bad_metric", ErrorCode::InvalidOptions),
        ("code.negative_diff", ErrorCode::InvalidOptions),
        ("code.stats_null", ErrorCode::NullPointer),
    ];
    for (key, code) in expected {
        assert_eq!(num(key), i64::from(code.as_i32()), "{key}");
    }
    // The C process is single-threaded and freed everything it got.
    // The canary leaks on every call that reaches the optimizer.
    if cfg!(feature = "canary-leak") {
        assert!(num("live_allocations.delta") > 0);
    } else {
        assert_eq!(num("live_allocations.delta"), 0);
    }
    assert_eq!(fact("done"), "1");
}
