//! sites: leak-site tracking with the counting allocator installed as the
//! global one, as in a cdylib or a memory suite. A plain `main` (harness =
//! false): libtest's own threads would allocate through the same global
//! allocator while the counts are compared.
//!
//! Plants a leak in a named function and checks that the dump names it with
//! its bytes and blocks, that tracking (and dumping, which allocates a lot)
//! leaves the exact live counts alone, that the baseline filter keeps only
//! what was made after it, and that threads and reallocs are followed.

use memtest_alloc::CountingAlloc;
use std::hint::black_box;

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc::new();

#[inline(never)]
fn planted_leak(n: usize) -> Vec<Box<[u8]>> {
    // Never zero: `vec![0; n]` takes the zeroed path, another stack.
    (0..n)
        .map(|i| vec![(i as u8) | 1; 1000].into_boxed_slice())
        .collect()
}

#[inline(never)]
fn grows_by_realloc() -> Vec<u64> {
    let mut v = Vec::with_capacity(1);
    for i in 0..5000 {
        v.push(i);
    }
    v
}

fn site_of<'a>(lines: &'a str, function: &str) -> Option<&'a str> {
    lines
        .lines()
        .find(|l| l.contains(&format!("\"function\":\"sites::{function}\"")))
}

fn field(line: &str, name: &str) -> u64 {
    let at = line.find(&format!("\"{name}\":")).unwrap() + name.len() + 3;
    line[at..]
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

fn main() {
    // std's one-time allocations for spawning (the main thread's handle)
    // are made before the baseline.
    std::thread::spawn(|| ()).join().unwrap();
    GLOBAL.track_sites(true);
    assert!(GLOBAL.is_tracking_sites());
    let before = GLOBAL.snapshot();

    let leaked = black_box(planted_leak(20));
    let grown = black_box(grows_by_realloc());
    let threaded = std::thread::spawn(|| black_box(planted_leak(3)))
        .join()
        .unwrap();
    let with_blocks = GLOBAL.snapshot();

    let lines = GLOBAL.site_lines(before.total_allocations, 50);
    // Dumping symbolizes (megabytes of debug information) and formats: all
    // of it the tracker's own, so the program's counts do not move.
    assert_eq!(
        GLOBAL.snapshot().live_allocations,
        with_blocks.live_allocations
    );
    assert_eq!(GLOBAL.snapshot().live_bytes, with_blocks.live_bytes);
    assert!(
        lines.lines().all(|l| l.starts_with("MEMTEST site={")),
        "{lines:?}"
    );

    let leak = site_of(&lines, "planted_leak").expect("the planted leak has a site");
    // The main thread's 20 boxes and the thread's 3 are two stacks.
    assert_eq!((field(leak, "bytes"), field(leak, "blocks")), (20_000, 20));
    let sizes: Vec<u64> = lines.lines().map(|l| field(l, "bytes")).collect();
    assert!(
        sizes.windows(2).all(|w| w[0] >= w[1]),
        "largest first: {sizes:?}"
    );
    assert!(leak.contains("\"file\":\""), "{leak}");
    assert!(leak.contains("sites.rs"), "frames carry their file: {leak}");
    assert!(leak.contains("\"object\":\""), "and their object: {leak}");
    assert!(
        !leak.contains("\"function\":\"backtrace::"),
        "the stack walk's own frames are left out: {leak}"
    );
    let threads = lines
        .lines()
        .filter(|l| l.contains("planted_leak"))
        .map(|l| (field(l, "bytes"), field(l, "blocks")))
        .collect::<Vec<_>>();
    assert!(threads.contains(&(3_000, 3)), "{threads:?}");
    let realloc = site_of(&lines, "grows_by_realloc").expect("a realloc'd block keeps its site");
    assert_eq!(field(realloc, "blocks"), 1);
    assert_eq!(field(realloc, "bytes"), (grown.capacity() * 8) as u64);

    // What was live before the baseline is left out.
    let later = GLOBAL.snapshot().total_allocations;
    let none = GLOBAL.site_lines(later, 50);
    assert_eq!(&*none, "", "nothing allocated since");

    drop((leaked, grown, threaded, lines, sizes, threads));
    let after = GLOBAL.snapshot();
    assert_eq!(
        (after.live_allocations, after.live_bytes),
        (before.live_allocations, before.live_bytes),
        "tracking kept the exact counts"
    );
    let empty = GLOBAL.site_lines(before.total_allocations, 50);
    assert!(
        site_of(&empty, "planted_leak").is_none(),
        "freed blocks have no site: {empty:?}"
    );
    println!("sites: ok");
}
