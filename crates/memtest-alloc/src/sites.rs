//! Leak sites (feature `sites`): with tracking on, every block the counting
//! allocator hands out remembers the stack that allocated it, until it is
//! freed; [`crate::CountingAlloc::site_lines`] groups the blocks still live
//! by stack and prints them, symbolized, as `MEMTEST site={json}` lines
//! (the format is in memtest's docs/protocol.md), largest first.
//!
//! Tracking is off unless `MEMTEST_EXPLAIN` is set to anything but `0` or
//! empty (memtest's attribution mode, `memtest explain`, sets it), read at
//! the first allocation, or turned on with
//! [`crate::CountingAlloc::track_sites`].
//!
//! Every block is tracked, not a sample, so a single leaked block has its
//! site; the cost is one stack walk per allocation (see
//! docs/benchmarks/sites.md in memtest). At most [`MAX_TRACKED_BLOCKS`] live
//! blocks are tracked at once: past that, new blocks are counted as
//! untracked (reported as `MEMTEST native_sites_untracked_blocks=N`), so a
//! runaway leak cannot take the machine's memory through its own tracking.
//!
//! Re-entrancy: walking a stack, growing the tables and symbolizing all
//! allocate. A thread-local flag marks the tracker's own work; allocations
//! made while it is set go straight to the system allocator, neither
//! counted nor tracked, and are freed while it is set, so the exact live
//! counts stay what the program itself allocated.

use std::cell::Cell;
use std::collections::HashMap as StdHashMap;
use std::fmt::Write as _;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering::Relaxed};
use std::sync::{Mutex, OnceLock};

/// Frames kept per stack, innermost first.
pub const MAX_FRAMES: usize = 48;
/// Frames kept past the last one inside the object this allocator is built
/// into: who called the library (`ffi_call`, a suite's `main`). Walking on
/// through an interpreter's frames costs more than all the rest of a stack
/// and names nothing a Python or JS site does not name better.
pub const CALLER_FRAMES: usize = 3;
/// Live blocks tracked at once (each costs ~50 bytes of the tracker's own).
pub const MAX_TRACKED_BLOCKS: usize = 1 << 20;
/// The variable that turns tracking on.
pub const ENV: &str = "MEMTEST_EXPLAIN";

const UNKNOWN: u8 = 0;
const OFF: u8 = 1;
const ON: u8 = 2;

thread_local! {
    /// Set while this thread runs tracker code (see the module docs).
    static BUSY: Cell<bool> = const { Cell::new(false) };
    /// The interned caller label of this thread's allocations (0: none),
    /// see [`Tracker::set_caller`].
    static CALLER: Cell<u32> = const { Cell::new(0) };
}

/// Whether this thread is inside the tracker: its allocations are the
/// tracker's own. A thread whose locals are gone counts as busy, so a
/// late allocation during thread exit is passed through rather than walked.
pub(crate) fn busy() -> bool {
    BUSY.try_with(Cell::get).unwrap_or(true)
}

/// Runs `f` as tracker code, or returns `None` when this thread already is
/// (a nested allocation).
fn guarded<R>(f: impl FnOnce() -> R) -> Option<R> {
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            let _ = BUSY.try_with(|b| b.set(false));
        }
    }
    let entered = BUSY.try_with(|b| !b.replace(true)).unwrap_or(false);
    if !entered {
        return None;
    }
    let _reset = Reset;
    Some(f())
}

/// The tables' hash: keys are addresses and stacks of addresses, hashed on
/// every allocation and free; SipHash's flooding resistance buys nothing
/// here and costs a third of a table update (FxHash's mix, as in rustc).
#[derive(Default, Clone, Copy)]
struct FxHasher(u64);

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
    }
    #[inline]
    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }
    #[inline]
    fn write_u32(&mut self, n: u32) {
        self.add(u64::from(n));
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

type HashMap<K, V> = StdHashMap<K, V, BuildHasherDefault<FxHasher>>;

/// A site's stack and its caller label, copied out of the table.
type SiteStack = (Box<[usize]>, Option<Box<str>>);

#[derive(Clone, Copy)]
struct Block {
    size: u64,
    /// Its allocation's index among all allocations (the `total_allocations`
    /// count when it was made): lets a dump keep what was made after a
    /// baseline.
    seq: u64,
    stack: u32,
    /// The caller label set on its thread when it was made (0: none).
    caller: u32,
}

#[derive(Default)]
struct Table {
    blocks: HashMap<usize, Block>,
    stacks: Vec<Box<[usize]>>,
    stack_ids: HashMap<Box<[usize]>, u32>,
    /// Caller labels; label `i` has id `i + 1`.
    callers: Vec<Box<str>>,
    caller_ids: HashMap<Box<str>, u32>,
    untracked: u64,
}

/// The per-allocator tracking state.
pub(crate) struct Tracker {
    state: AtomicU8,
    /// `table.blocks.len()`, readable without the lock: a full table skips
    /// the stack walk.
    tracked: AtomicUsize,
    table: Mutex<Option<Table>>,
}

impl Tracker {
    pub(crate) const fn new() -> Self {
        Tracker {
            state: AtomicU8::new(UNKNOWN),
            tracked: AtomicUsize::new(0),
            table: Mutex::new(None),
        }
    }

    /// Tracking is on, or not decided yet: the allocator must then check
    /// [`busy`] before counting.
    #[inline]
    pub(crate) fn may_track(&self) -> bool {
        self.state.load(Relaxed) != OFF
    }

    pub(crate) fn set(&self, on: bool) {
        self.state.store(if on { ON } else { OFF }, Relaxed);
    }

    pub(crate) fn is_on(&self) -> bool {
        self.on()
    }

    fn on(&self) -> bool {
        match self.state.load(Relaxed) {
            ON => true,
            OFF => false,
            _ => {
                let wanted =
                    guarded(|| std::env::var_os(ENV).is_some_and(|v| !v.is_empty() && v != "0"));
                match wanted {
                    Some(on) => {
                        // A racing `set` wins over the environment.
                        let _ = self.state.compare_exchange(
                            UNKNOWN,
                            if on { ON } else { OFF },
                            Relaxed,
                            Relaxed,
                        );
                        self.state.load(Relaxed) == ON
                    }
                    None => false,
                }
            }
        }
    }

    /// Labels this thread's allocations from now on with `label` (an
    /// interpreter's `file:line` that called into the library; `None`
    /// clears it): a site's stack then ends with that frame, so the native
    /// site and the line of the binding's caller show together. Interned
    /// (a suite calls from a few lines), one lock per call; nothing while
    /// tracking is off.
    pub(crate) fn set_caller(&self, label: Option<&str>) {
        let id = match label {
            Some(label) if self.on() => guarded(|| {
                let mut guard = self.table.lock().unwrap_or_else(|e| e.into_inner());
                guard
                    .get_or_insert_with(Table::default)
                    .intern_caller(label)
            })
            .unwrap_or(0),
            _ => 0,
        };
        let _ = CALLER.try_with(|c| c.set(id));
    }

    /// A block the program allocated (and the allocator counted).
    #[inline]
    pub(crate) fn allocated(&self, ptr: *mut u8, size: usize, seq: u64) {
        if !self.on() {
            return;
        }
        guarded(|| {
            let mut ips = [0usize; MAX_FRAMES];
            let mut depth = 0;
            let full = self.tracked.load(Relaxed) >= MAX_TRACKED_BLOCKS;
            if !full {
                depth = crate::walk::walk(&mut ips, &own_object(), CALLER_FRAMES);
            }
            let mut guard = self.table.lock().unwrap_or_else(|e| e.into_inner());
            let table = guard.get_or_insert_with(Table::default);
            if full || table.blocks.len() >= MAX_TRACKED_BLOCKS {
                table.untracked += 1;
                return;
            }
            let stack = table.intern(&ips[..depth]);
            let caller = CALLER.try_with(Cell::get).unwrap_or(0);
            table.blocks.insert(
                ptr as usize,
                Block {
                    size: size as u64,
                    seq,
                    stack,
                    caller,
                },
            );
            self.tracked.store(table.blocks.len(), Relaxed);
        });
    }

    /// A block freed by the program.
    #[inline]
    pub(crate) fn freed(&self, ptr: *mut u8) {
        if self.state.load(Relaxed) != ON {
            return;
        }
        guarded(|| {
            let mut guard = self.table.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(table) = guard.as_mut() {
                if table.blocks.remove(&(ptr as usize)).is_none() && table.untracked > 0 {
                    // Most likely one of the untracked blocks.
                    table.untracked -= 1;
                }
                self.tracked.store(table.blocks.len(), Relaxed);
            }
        });
    }

    /// A block moved or resized by realloc keeps the stack that made it.
    #[inline]
    pub(crate) fn moved(&self, old: *mut u8, new: *mut u8, new_size: usize) {
        if self.state.load(Relaxed) != ON {
            return;
        }
        guarded(|| {
            let mut guard = self.table.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(table) = guard.as_mut() {
                if let Some(mut block) = table.blocks.remove(&(old as usize)) {
                    block.size = new_size as u64;
                    table.blocks.insert(new as usize, block);
                }
            }
        });
    }

    /// The live blocks whose allocation index `keep` accepts, grouped by
    /// stack, largest first, at most `max_sites` of them, as site lines.
    pub(crate) fn lines(&self, keep: &dyn Fn(u64) -> bool, max_sites: usize) -> SiteLines {
        let text = guarded(|| {
            // Totals and stacks are copied out under the lock; symbolizing
            // (slow: it reads debug information) runs without it.
            let (mut totals, stacks, untracked) = {
                let guard = self.table.lock().unwrap_or_else(|e| e.into_inner());
                let Some(table) = guard.as_ref() else {
                    return String::new();
                };
                let mut by_stack: HashMap<(u32, u32), (u64, u64)> = HashMap::default();
                for block in table.blocks.values().filter(|b| keep(b.seq)) {
                    let t = by_stack.entry((block.stack, block.caller)).or_default();
                    t.0 += block.size;
                    t.1 += 1;
                }
                let mut totals: Vec<((u32, u32), u64, u64)> =
                    by_stack.into_iter().map(|(s, (b, n))| (s, b, n)).collect();
                totals.sort_by(|a, b| (b.1, b.2, a.0).cmp(&(a.1, a.2, b.0)));
                totals.truncate(max_sites);
                let stacks: Vec<SiteStack> = totals
                    .iter()
                    .map(|((s, c), _, _)| {
                        let caller = c.checked_sub(1).map(|i| table.callers[i as usize].clone());
                        (table.stacks[*s as usize].clone(), caller)
                    })
                    .collect();
                (totals, stacks, table.untracked)
            };
            let mut symbols = Symbols::default();
            let mut out = String::new();
            for ((_, bytes, blocks), (ips, caller)) in totals.drain(..).zip(stacks.iter()) {
                out.push_str(&site_line(
                    bytes,
                    blocks,
                    ips,
                    caller.as_deref(),
                    &mut symbols,
                ));
                out.push('\n');
            }
            if untracked > 0 {
                let _ = writeln!(out, "MEMTEST native_sites_untracked_blocks={untracked}");
            }
            out
        });
        SiteLines { text }
    }
}

impl std::fmt::Debug for Tracker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tracker")
            .field("state", &self.state.load(Relaxed))
            .field("tracked", &self.tracked.load(Relaxed))
            .finish()
    }
}

impl Table {
    fn intern(&mut self, ips: &[usize]) -> u32 {
        if let Some(id) = self.stack_ids.get(ips) {
            return *id;
        }
        let id = self.stacks.len() as u32;
        self.stacks.push(ips.into());
        self.stack_ids.insert(ips.into(), id);
        id
    }

    fn intern_caller(&mut self, label: &str) -> u32 {
        if let Some(id) = self.caller_ids.get(label) {
            return *id;
        }
        self.callers.push(label.into());
        let id = self.callers.len() as u32;
        self.caller_ids.insert(label.into(), id);
        id
    }
}

/// Site lines made by the tracker. Its text was allocated as tracker memory
/// (neither counted nor tracked) and is freed the same way when this is
/// dropped, so holding or printing it leaves the live counts alone.
pub struct SiteLines {
    text: Option<String>,
}

impl SiteLines {
    /// The lines, each ending in a newline; empty when tracking is off or
    /// nothing is live.
    pub fn as_str(&self) -> &str {
        self.text.as_deref().unwrap_or("")
    }
}

impl std::ops::Deref for SiteLines {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl std::fmt::Display for SiteLines {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Debug for SiteLines {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Drop for SiteLines {
    fn drop(&mut self) {
        let text = self.text.take();
        // On a thread already inside the tracker this cannot happen (the
        // tracker makes no SiteLines for itself); dropping outside the
        // guard would uncount bytes that were never counted.
        if let Some(text) = text {
            if guarded(|| drop(text)).is_none() {
                unreachable!("SiteLines dropped inside the tracker");
            }
        }
    }
}

/// One resolved frame.
#[derive(Clone, Default)]
struct FrameInfo {
    function: Option<String>,
    file: Option<String>,
    line: Option<u32>,
    object: Option<String>,
}

/// Resolved frames by instruction pointer, shared by the sites of one dump.
#[derive(Default)]
struct Symbols {
    by_ip: HashMap<usize, Vec<FrameInfo>>,
}

impl Symbols {
    fn resolve(&mut self, ip: usize) -> &[FrameInfo] {
        self.by_ip.entry(ip).or_insert_with(|| {
            // Return addresses point after the call: look up the call.
            let lookup = ip.saturating_sub(1);
            let object = object_of(lookup);
            let mut frames = Vec::new();
            // SAFETY: as for trace_unsynchronized above.
            unsafe {
                backtrace::resolve_unsynchronized(lookup as *mut std::ffi::c_void, |sym| {
                    frames.push(FrameInfo {
                        function: sym.name().map(|n| format!("{n:#}")),
                        file: sym.filename().map(|p| p.display().to_string()),
                        line: sym.lineno(),
                        object: object.clone(),
                    });
                });
            }
            if frames.is_empty() {
                frames.push(FrameInfo {
                    object,
                    ..FrameInfo::default()
                });
            }
            frames
        })
    }
}

/// The addresses of the object (executable or shared library) this code is
/// in; empty when the loader cannot say.
fn own_object() -> std::ops::Range<usize> {
    static OWN: OnceLock<std::ops::Range<usize>> = OnceLock::new();
    OWN.get_or_init(|| {
        struct Search {
            target: usize,
            found: std::ops::Range<usize>,
        }
        unsafe extern "C" fn visit(
            info: *mut libc::dl_phdr_info,
            _size: libc::size_t,
            data: *mut libc::c_void,
        ) -> libc::c_int {
            // SAFETY: the loader hands a valid info for the call's length;
            // data is the Search passed below.
            let (info, search) = unsafe { (&*info, &mut *data.cast::<Search>()) };
            // The lowest start and highest end of its loaded segments.
            let (mut lo, mut hi) = (usize::MAX, 0);
            for i in 0..usize::from(info.dlpi_phnum) {
                // SAFETY: dlpi_phdr holds dlpi_phnum headers.
                let ph = unsafe { &*info.dlpi_phdr.add(i) };
                if ph.p_type == libc::PT_LOAD {
                    let start = info.dlpi_addr as usize + ph.p_vaddr as usize;
                    lo = lo.min(start);
                    hi = hi.max(start + ph.p_memsz as usize);
                }
            }
            if (lo..hi).contains(&search.target) {
                search.found = lo..hi;
                return 1;
            }
            0
        }
        let mut search = Search {
            target: own_object as *const () as usize,
            found: 0..0,
        };
        // SAFETY: visit matches the callback type and only reads the
        // headers the loader passes; search outlives the call.
        unsafe { libc::dl_iterate_phdr(Some(visit), (&mut search as *mut Search).cast()) };
        search.found
    })
    .clone()
}

/// The object file (executable or shared library) holding `ip`.
fn object_of(ip: usize) -> Option<String> {
    // SAFETY: dladdr only reads the loader's tables; `info` is written by
    // it before we read it, and dli_fname points into the loader's own
    // storage, valid while the object stays loaded (it holds this code).
    unsafe {
        let mut info: libc::Dl_info = std::mem::zeroed();
        if libc::dladdr(ip as *const libc::c_void, &mut info) == 0 || info.dli_fname.is_null() {
            return None;
        }
        let name = std::ffi::CStr::from_ptr(info.dli_fname).to_string_lossy();
        (!name.is_empty()).then(|| name.into_owned())
    }
}

/// The tracker's own frames (the stack walk) lead every stack: leave them
/// out. The allocator's frames are kept; memtest folds them. Inlined frames
/// carry their short names only (`trace`, `{closure#0}`), so their source
/// files tell them apart.
fn is_walker(frame: &FrameInfo) -> bool {
    let by_name = frame.function.as_deref().is_some_and(|f| {
        f.starts_with("backtrace::")
            || f.starts_with("memtest_alloc::sites::")
            || f.starts_with("<memtest_alloc::sites::")
    });
    let by_file = frame.file.as_deref().is_some_and(|f| {
        f.contains("/backtrace-0.") || (f.contains("memtest-alloc") && f.ends_with("src/sites.rs"))
    });
    by_name || by_file
}

fn site_line(
    bytes: u64,
    blocks: u64,
    ips: &[usize],
    caller: Option<&str>,
    symbols: &mut Symbols,
) -> String {
    let mut frames: Vec<FrameInfo> = Vec::new();
    for ip in ips {
        frames.extend(symbols.resolve(*ip).iter().cloned());
    }
    // The end of a walk may leave an address nothing resolves (no object,
    // no symbol): it says nothing.
    frames.retain(|f| f.function.is_some() || f.file.is_some() || f.object.is_some());
    // The interpreter's line that called the library, outermost.
    if let Some(label) = caller {
        let (file, line) = match label.rsplit_once(':') {
            Some((file, line)) if line.parse::<u32>().is_ok() => (file, line.parse().ok()),
            _ => (label, None),
        };
        frames.push(FrameInfo {
            file: Some(file.to_string()),
            line,
            ..FrameInfo::default()
        });
    }
    let start = frames.iter().take_while(|f| is_walker(f)).count();
    let mut line = format!(
        "MEMTEST site={{\"layer\":\"native\",\"source\":\"memtest-alloc\",\"bytes\":{bytes},\"blocks\":{blocks},\"frames\":["
    );
    for (i, f) in frames[start..].iter().enumerate() {
        if i > 0 {
            line.push(',');
        }
        line.push('{');
        let mut first = true;
        let mut field = |name: &str, value: &str, quoted: bool| {
            if !first {
                line.push(',');
            }
            first = false;
            line.push('"');
            line.push_str(name);
            line.push_str("\":");
            if quoted {
                push_json_string(&mut line, value);
            } else {
                line.push_str(value);
            }
        };
        if let Some(v) = &f.function {
            field("function", v, true);
        }
        if let Some(v) = &f.file {
            field("file", v, true);
        }
        if let Some(v) = f.line {
            field("line", &v.to_string(), false);
        }
        if let Some(v) = &f.object {
            field("object", v, true);
        }
        line.push('}');
    }
    line.push_str("]}");
    line
}

fn push_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_strings_escape_what_json_requires() {
        let mut s = String::new();
        push_json_string(&mut s, "<a as \"b\">::c\\d\n\u{1}é");
        assert_eq!(s, r#""<a as \"b\">::c\\d\n\u0001é""#);
    }

    #[test]
    fn the_guard_refuses_to_nest_and_resets() {
        assert!(!busy());
        let nested = guarded(|| (busy(), guarded(|| ())));
        assert_eq!(nested, Some((true, None)));
        assert!(!busy());
    }
}
