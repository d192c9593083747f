//! Leak or allocator? The data of the answer: what a suite reported at each
//! checkpoint in attribution mode ([`Checkpoint`], with memtest's own
//! [`Smaps`] reading beside it), the runs of the suite with the allocator
//! asked to give memory back ([`Probe`]), and the [`Diagnosis`]: a
//! [`Cause`] with the figures ([`Evidence`]) that decided it. The verdict
//! stage (`verdict/cause.rs`) computes the diagnosis; reporters show it.

use crate::units::{ByteDelta, Bytes};
use serde::{Deserialize, Serialize};
use std::fmt;

/// What a suite's RSS growth is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    /// Live bytes grow: memory the program still holds.
    Leak,
    /// Live bytes flat while RSS grows: freed memory the allocator keeps
    /// (glibc arenas, trim thresholds), given back when asked.
    AllocatorRetention,
    /// RSS grew, then stayed flat over the last part of the run: a cache or
    /// pool reaching its working set.
    CachePlateau,
    /// RSS did not grow past the noise floor, nor did live bytes.
    NoGrowth,
    /// RSS grows, live bytes do not, and giving memory back did not explain
    /// it (or the suite reports no live figures to tell).
    Undecided,
}

impl Cause {
    pub fn label(self) -> &'static str {
        match self {
            Cause::Leak => "leak",
            Cause::AllocatorRetention => "allocator retention",
            Cause::CachePlateau => "cache plateau",
            Cause::NoGrowth => "no growth",
            Cause::Undecided => "undecided",
        }
    }
}

/// A run of the suite in attribution mode, and how it asked the allocator
/// to give memory back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Probe {
    /// As the suite runs normally, reporting its allocator's figures.
    Plain,
    /// `MEMTEST_MALLOC_TRIM=1`: the helpers call `malloc_trim(0)` at each
    /// checkpoint.
    MallocTrim,
    /// `MALLOC_ARENA_MAX=2`: glibc keeps at most two arenas.
    ArenaMax2,
    /// jemalloc through `LD_PRELOAD`, where it is installed.
    Jemalloc,
}

impl Probe {
    pub fn label(self) -> &'static str {
        match self {
            Probe::Plain => "plain",
            Probe::MallocTrim => "malloc_trim",
            Probe::ArenaMax2 => "MALLOC_ARENA_MAX=2",
            Probe::Jemalloc => "jemalloc",
        }
    }
}

/// Where a live-bytes figure comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LiveSource {
    /// The library's exact count (`native_live_bytes` at checkpoints, or
    /// `native_leaked_bytes` at the end).
    NativeCount,
    /// The allocator's in-use bytes (`mallinfo2`: uordblks + hblkhd).
    MallocInUse,
    /// Python's traced heap (`tracemalloc.get_traced_memory`).
    Tracemalloc,
    /// V8's used heap (`process.memoryUsage().heapUsed`).
    V8Heap,
}

impl LiveSource {
    pub fn label(self) -> &'static str {
        match self {
            LiveSource::NativeCount => "the library's count",
            LiveSource::MallocInUse => "malloc in use",
            LiveSource::Tracemalloc => "tracemalloc",
            LiveSource::V8Heap => "V8 heap used",
        }
    }
}

/// The resident memory of the suite's main process by kind of mapping, from
/// `/proc/PID/smaps` (Linux), read by memtest when a checkpoint line arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Smaps {
    /// `[heap]`: the main arena's brk heap.
    pub heap_bytes: u64,
    /// Anonymous mappings other than the heap and stacks: other arenas,
    /// mmapped blocks, runtimes' own heaps.
    pub anon_bytes: u64,
    /// File-backed mappings: code, data, mapped files.
    pub file_bytes: u64,
}

/// What a suite reported at one checkpoint (a `MEMTEST checkpoint=X ...`
/// line, docs/protocol.md), with memtest's smaps reading.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Milliseconds since the suite was spawned, when memtest read the line.
    pub t_ms: u64,
    /// The suite's own measure of progress (operations, rounds).
    pub x: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rss_bytes: Option<u64>,
    /// The library's exact live bytes (a counting allocator's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub native_live_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub malloc_in_use_bytes: Option<u64>,
    /// Free bytes the allocator holds (`mallinfo2` fordblks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub malloc_free_bytes: Option<u64>,
    /// RSS that `malloc_trim(0)` gave back at this checkpoint (trim runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub malloc_trimmed_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracemalloc_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub js_heap_used_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smaps: Option<Smaps>,
}

impl Checkpoint {
    /// The live figure of `source` at this checkpoint, where reported here.
    pub fn live(&self, source: LiveSource) -> Option<u64> {
        match source {
            LiveSource::NativeCount => self.native_live_bytes,
            LiveSource::MallocInUse => self.malloc_in_use_bytes,
            LiveSource::Tracemalloc => self.tracemalloc_bytes,
            LiveSource::V8Heap => self.js_heap_used_bytes,
        }
    }
}

/// One figure the verdict weighed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "figure", rename_all = "snake_case")]
pub enum Evidence {
    /// RSS at the last checkpoint minus the first, in a probe run.
    RssGrowth { probe: Probe, growth_bytes: i64 },
    /// RSS growth over the last third of the checkpoints (plain run).
    TailGrowth { growth_bytes: i64 },
    /// A live figure, last checkpoint minus the first.
    LiveGrowth {
        source: LiveSource,
        growth_bytes: i64,
    },
    /// Free bytes the allocator held at the last checkpoint (plain run).
    FreeHeld { bytes: u64 },
    /// RSS `malloc_trim(0)` gave back at the last checkpoint of the trim run.
    Trimmed { bytes: u64 },
    /// Growth of each kind of mapping, last checkpoint minus the first.
    SmapsGrowth {
        heap_bytes: i64,
        anon_bytes: i64,
        file_bytes: i64,
    },
}

impl fmt::Display for Evidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Evidence::RssGrowth {
                probe: Probe::Plain,
                growth_bytes,
            } => write!(f, "RSS {}", ByteDelta(growth_bytes)),
            Evidence::RssGrowth {
                probe,
                growth_bytes,
            } => write!(f, "RSS {} under {}", ByteDelta(growth_bytes), probe.label()),
            Evidence::TailGrowth { growth_bytes } => {
                write!(f, "RSS {} over the last third", ByteDelta(growth_bytes))
            }
            Evidence::LiveGrowth {
                source,
                growth_bytes,
            } => write!(
                f,
                "live bytes {} ({})",
                ByteDelta(growth_bytes),
                source.label()
            ),
            Evidence::FreeHeld { bytes } => write!(f, "malloc holds {} free", Bytes(bytes)),
            Evidence::Trimmed { bytes } => write!(f, "malloc_trim returned {}", Bytes(bytes)),
            Evidence::SmapsGrowth {
                heap_bytes,
                anon_bytes,
                file_bytes,
            } => write!(
                f,
                "smaps: heap {}, anonymous {}, file {}",
                ByteDelta(heap_bytes),
                ByteDelta(anon_bytes),
                ByteDelta(file_bytes)
            ),
        }
    }
}

/// The cause of a suite's RSS growth, the figures that decided it, and the
/// others gathered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Diagnosis {
    pub cause: Cause,
    pub deciding: Vec<Evidence>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub other: Vec<Evidence>,
}

/// "allocator retention: malloc_trim returned 38 MB, live bytes +0 B (malloc
/// in use)": what every report writes.
impl fmt::Display for Diagnosis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.cause.label())?;
        for (i, e) in self.deciding.iter().enumerate() {
            f.write_str(if i == 0 { ": " } else { ", " })?;
            write!(f, "{e}")?;
        }
        Ok(())
    }
}
