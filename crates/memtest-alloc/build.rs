//! Tells the leak-site walk (src/walk.rs) whether this build keeps frame
//! pointers: cfg `memtest_frame_pointers` when the crate's RUSTFLAGS hold
//! `-C force-frame-pointers=yes` (or `=on`, `=always`). Then it follows
//! them; otherwise it unwinds with DWARF, which is slower but needs nothing.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(memtest_frame_pointers)");
    println!("cargo::rerun-if-env-changed=CARGO_ENCODED_RUSTFLAGS");
    let flags = std::env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    let flags: Vec<&str> = flags.split('\x1f').collect();
    let value = |f: &str| {
        f.strip_prefix("-Cforce-frame-pointers=")
            .or_else(|| f.strip_prefix("force-frame-pointers="))
            .map(str::to_owned)
    };
    // The last setting wins, as rustc takes it ("-C" "x=y" or "-Cx=y").
    let last = flags.iter().filter_map(|f| value(f)).next_back();
    if matches!(
        last.as_deref(),
        Some("yes" | "y" | "on" | "true" | "always")
    ) {
        println!("cargo::rustc-cfg=memtest_frame_pointers");
    }
}
