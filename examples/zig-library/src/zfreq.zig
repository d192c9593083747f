//! zfreq: a word-frequency counter with a C ABI. Feed it text, ask how often a
//! word occurred, how many distinct words there were, or for the top-k words
//! rendered as text. The core (`Freq`) takes any std.mem.Allocator, so its
//! tests run on std.testing.allocator, which fails a test that leaks; the C
//! ABI runs it on a counting allocator over the C heap and exports the counts,
//! so memory suites in any language can report exact `native_leaks`.
//!
//! Built with -Dleak=true, `Freq.addWord` copies the word before looking it
//! up and forgets the copy when the word was already known: a real leak on
//! the hottest path, for the memtest canaries to catch. The same build leaks a
//! graded amount instead when MEMTEST_LEAK_BYTES=N is set (memtest's floor
//! search, docs/protocol.md): N bytes per `addWord` call, on one call in
//! MEMTEST_LEAK_EVERY=K, from the table's allocator or, with
//! MEMTEST_LEAK_HEAP=c, from the C heap directly, which the counting
//! allocator does not see.

const std = @import("std");
const build_options = @import("build_options");
const Allocator = std.mem.Allocator;
const Alignment = std.mem.Alignment;

pub const abi_version: u32 = 1;

/// Bytes that separate words: ASCII whitespace and common punctuation.
pub const separators = " \t\r\n\x0b\x0c.,;:!?\"()[]{}<>";

/// Wraps another allocator and counts the blocks and bytes live through it.
pub const CountingAllocator = struct {
    child: Allocator,
    live_allocations: std.atomic.Value(u64) = .init(0),
    live_bytes: std.atomic.Value(u64) = .init(0),
    total_allocations: std.atomic.Value(u64) = .init(0),

    pub fn allocator(self: *CountingAllocator) Allocator {
        return .{ .ptr = self, .vtable = &vtable };
    }

    const vtable: Allocator.VTable = .{ .alloc = alloc, .resize = resize, .remap = remap, .free = free };

    fn from(ctx: *anyopaque) *CountingAllocator {
        return @ptrCast(@alignCast(ctx));
    }

    fn grew(self: *CountingAllocator, old_len: usize, new_len: usize) void {
        if (new_len >= old_len) {
            _ = self.live_bytes.fetchAdd(new_len - old_len, .monotonic);
        } else {
            _ = self.live_bytes.fetchSub(old_len - new_len, .monotonic);
        }
    }

    fn alloc(ctx: *anyopaque, len: usize, alignment: Alignment, ret_addr: usize) ?[*]u8 {
        const self = from(ctx);
        const p = self.child.rawAlloc(len, alignment, ret_addr) orelse return null;
        _ = self.live_allocations.fetchAdd(1, .monotonic);
        _ = self.total_allocations.fetchAdd(1, .monotonic);
        _ = self.live_bytes.fetchAdd(len, .monotonic);
        return p;
    }

    fn resize(ctx: *anyopaque, memory: []u8, alignment: Alignment, new_len: usize, ret_addr: usize) bool {
        const self = from(ctx);
        if (!self.child.rawResize(memory, alignment, new_len, ret_addr)) return false;
        self.grew(memory.len, new_len);
        return true;
    }

    fn remap(ctx: *anyopaque, memory: []u8, alignment: Alignment, new_len: usize, ret_addr: usize) ?[*]u8 {
        const self = from(ctx);
        const p = self.child.rawRemap(memory, alignment, new_len, ret_addr) orelse return null;
        self.grew(memory.len, new_len);
        return p;
    }

    fn free(ctx: *anyopaque, memory: []u8, alignment: Alignment, ret_addr: usize) void {
        const self = from(ctx);
        self.child.rawFree(memory, alignment, ret_addr);
        _ = self.live_allocations.fetchSub(1, .monotonic);
        _ = self.live_bytes.fetchSub(memory.len, .monotonic);
    }
};

/// The leaky variant's lost copies escape through this C-visible global, so no
/// optimizer may decide the allocation was unused. Null in the clean build.
export var zfreq_canary_sink: ?*anyopaque = null;

/// The graded leak of the leaky build, read from the environment on the
/// first `addWord` call (the suites call from one thread).
const Grade = struct {
    read: bool = false,
    /// MEMTEST_LEAK_BYTES is set: leak that instead of the lost copies.
    graded: bool = false,
    bytes: usize = 0,
    every: u64 = 1,
    c_heap: bool = false,
    calls: u64 = 0,
};
var grade: Grade = .{};

fn envVar(name: [*:0]const u8) ?[]const u8 {
    const value = std.c.getenv(name) orelse return null;
    const text = std.mem.span(value);
    return if (text.len == 0) null else text;
}

fn readGrade() void {
    grade.read = true;
    const size = envVar("MEMTEST_LEAK_BYTES") orelse return;
    grade.graded = true;
    grade.bytes = std.fmt.parseInt(usize, size, 10) catch @panic("MEMTEST_LEAK_BYTES: not a byte count");
    if (envVar("MEMTEST_LEAK_EVERY")) |every| {
        grade.every = std.fmt.parseInt(u64, every, 10) catch @panic("MEMTEST_LEAK_EVERY: not a count");
        if (grade.every == 0) @panic("MEMTEST_LEAK_EVERY: 1 or more");
    }
    if (envVar("MEMTEST_LEAK_HEAP")) |heap| grade.c_heap = std.mem.eql(u8, heap, "c");
}

/// One `addWord` call: leaks the graded block when this call's turn has come.
fn gradedLeak(gpa: Allocator) void {
    const call = grade.calls;
    grade.calls += 1;
    if (grade.bytes == 0 or call % grade.every != 0) return;
    const heap = if (grade.c_heap) std.heap.c_allocator else gpa;
    const block = heap.alloc(u8, grade.bytes) catch return;
    @memset(block, 0xA5); // resident, so RSS sees it
    zfreq_canary_sink = block.ptr;
}

pub const Entry = struct { word: []const u8, count: u64 };

pub const Freq = struct {
    gpa: Allocator,
    /// Keys are copies owned by the table.
    counts: std.StringHashMapUnmanaged(u64) = .empty,
    total: u64 = 0,

    pub fn init(gpa: Allocator) Freq {
        return .{ .gpa = gpa };
    }

    pub fn deinit(self: *Freq) void {
        var it = self.counts.iterator();
        while (it.next()) |e| self.gpa.free(e.key_ptr.*);
        self.counts.deinit(self.gpa);
        self.* = undefined;
    }

    pub fn addWord(self: *Freq, word: []const u8) Allocator.Error!void {
        if (build_options.leak and !grade.read) readGrade();
        if (build_options.leak and grade.graded) gradedLeak(self.gpa);
        if (build_options.leak and !grade.graded) {
            // The bug: a copy made before the lookup, kept only for new words.
            const copy = try self.gpa.dupe(u8, word);
            zfreq_canary_sink = copy.ptr;
            const gop = try self.counts.getOrPut(self.gpa, copy);
            if (!gop.found_existing) gop.value_ptr.* = 0;
            gop.value_ptr.* += 1;
            self.total += 1;
            return;
        }
        // Look up with the caller's bytes; copy only a word that is new.
        const gop = try self.counts.getOrPut(self.gpa, word);
        if (!gop.found_existing) {
            const copy = self.gpa.dupe(u8, word) catch |err| {
                self.counts.removeByPtr(gop.key_ptr);
                return err;
            };
            gop.key_ptr.* = copy;
            gop.value_ptr.* = 0;
        }
        gop.value_ptr.* += 1;
        self.total += 1;
    }

    /// Adds every word of `text`; returns how many there were.
    pub fn addText(self: *Freq, text: []const u8) Allocator.Error!u64 {
        var n: u64 = 0;
        var it = std.mem.tokenizeAny(u8, text, separators);
        while (it.next()) |word| {
            try self.addWord(word);
            n += 1;
        }
        return n;
    }

    pub fn count(self: *const Freq, word: []const u8) u64 {
        return self.counts.get(word) orelse 0;
    }

    pub fn distinct(self: *const Freq) usize {
        return self.counts.count();
    }

    fn moreFrequent(_: void, a: Entry, b: Entry) bool {
        return a.count > b.count or (a.count == b.count and std.mem.lessThan(u8, a.word, b.word));
    }

    /// The `k` most frequent words, most frequent first (ties: bytewise
    /// order), rendered as "word count\n" lines; the caller frees the text
    /// with the same allocator.
    pub fn topText(self: *const Freq, gpa: Allocator, k: usize) Allocator.Error![]u8 {
        var entries: std.ArrayList(Entry) = .empty;
        defer entries.deinit(gpa);
        try entries.ensureTotalCapacity(gpa, self.counts.count());
        var it = self.counts.iterator();
        while (it.next()) |e| entries.appendAssumeCapacity(.{ .word = e.key_ptr.*, .count = e.value_ptr.* });
        std.mem.sort(Entry, entries.items, {}, moreFrequent);

        var out: std.ArrayList(u8) = .empty;
        errdefer out.deinit(gpa);
        for (entries.items[0..@min(k, entries.items.len)]) |e| try out.print(gpa, "{s} {d}\n", .{ e.word, e.count });
        return out.toOwnedSlice(gpa);
    }
};

// ------------------------------------------------------------------ the C ABI

var counting: CountingAllocator = .{ .child = std.heap.c_allocator };

fn handle(h: ?*anyopaque) ?*Freq {
    return @ptrCast(@alignCast(h orelse return null));
}

fn bytes(p: ?[*]const u8, len: usize) ?[]const u8 {
    if (len == 0) return "";
    return (p orelse return null)[0..len];
}

export fn zfreq_abi_version() u32 {
    return abi_version;
}

/// A new, empty counter, or NULL when memory runs out.
export fn zfreq_new() ?*anyopaque {
    const gpa = counting.allocator();
    const f = gpa.create(Freq) catch return null;
    f.* = Freq.init(gpa);
    return f;
}

export fn zfreq_free(h: ?*anyopaque) void {
    const f = handle(h) orelse return;
    f.deinit();
    counting.allocator().destroy(f);
}

/// Adds the words of `len` bytes of text; returns how many, or -1 on NULL
/// arguments or when memory runs out (words before that point are counted).
export fn zfreq_add_text(h: ?*anyopaque, text: ?[*]const u8, len: usize) i64 {
    const f = handle(h) orelse return -1;
    const t = bytes(text, len) orelse return -1;
    const n = f.addText(t) catch return -1;
    return @intCast(n);
}

/// How often the word occurred (0 for an unknown word or NULL arguments).
export fn zfreq_count(h: ?*anyopaque, word: ?[*]const u8, len: usize) u64 {
    const f = handle(h) orelse return 0;
    return f.count(bytes(word, len) orelse return 0);
}

export fn zfreq_distinct(h: ?*anyopaque) u64 {
    return if (handle(h)) |f| f.distinct() else 0;
}

export fn zfreq_total(h: ?*anyopaque) u64 {
    return if (handle(h)) |f| f.total else 0;
}

/// The top `k` words as "word count\n" lines, its length in *out_len; free it
/// with zfreq_text_free(ptr, len). NULL on NULL arguments or out of memory.
export fn zfreq_top_text(h: ?*anyopaque, k: u32, out_len: ?*usize) ?[*]u8 {
    const f = handle(h) orelse return null;
    const len_ptr = out_len orelse return null;
    const text = f.topText(counting.allocator(), k) catch return null;
    len_ptr.* = text.len;
    // An empty slice has no allocation behind it; hand out a non-NULL pointer
    // anyway, which zfreq_text_free(ptr, 0) knows not to free.
    return if (text.len == 0) @constCast("".ptr) else text.ptr;
}

export fn zfreq_text_free(p: ?[*]u8, len: usize) void {
    if (len == 0) return;
    counting.allocator().free((p orelse return)[0..len]);
}

export fn zfreq_live_allocations() u64 {
    return counting.live_allocations.load(.monotonic);
}

export fn zfreq_live_bytes() u64 {
    return counting.live_bytes.load(.monotonic);
}

export fn zfreq_total_allocations() u64 {
    return counting.total_allocations.load(.monotonic);
}

// ---------------------------------------------------------------------- tests
// std.testing.allocator fails any test that leaves memory allocated: with
// -Dleak=true the tests below that repeat a word must fail.

const testing = std.testing;

test "counts words across calls" {
    var f = Freq.init(testing.allocator);
    defer f.deinit();
    try testing.expectEqual(@as(u64, 6), try f.addText("the cat, the hat. The end"));
    try testing.expectEqual(@as(u64, 3), try f.addText("\tcat cat\nhat "));
    try testing.expectEqual(@as(u64, 2), f.count("the"));
    try testing.expectEqual(@as(u64, 3), f.count("cat"));
    try testing.expectEqual(@as(u64, 1), f.count("The"));
    try testing.expectEqual(@as(u64, 0), f.count("dog"));
    try testing.expectEqual(@as(usize, 5), f.distinct());
    try testing.expectEqual(@as(u64, 9), f.total);
}

test "empty and separator-only text" {
    var f = Freq.init(testing.allocator);
    defer f.deinit();
    try testing.expectEqual(@as(u64, 0), try f.addText(""));
    try testing.expectEqual(@as(u64, 0), try f.addText(" ,.;\n"));
    try testing.expectEqual(@as(usize, 0), f.distinct());
}

test "top text is ordered by count, then bytes" {
    var f = Freq.init(testing.allocator);
    defer f.deinit();
    _ = try f.addText("b a c b a b d");
    const text = try f.topText(testing.allocator, 3);
    defer testing.allocator.free(text);
    try testing.expectEqualStrings("b 3\na 2\nc 1\n", text);
    const none = try f.topText(testing.allocator, 0);
    defer testing.allocator.free(none);
    try testing.expectEqualStrings("", none);
}

test "keys are copies: the caller's buffer may change" {
    var f = Freq.init(testing.allocator);
    defer f.deinit();
    var buf = "word".*;
    try f.addWord(&buf);
    buf[0] = 'x';
    try f.addWord(&buf);
    try testing.expectEqual(@as(u64, 1), f.count("word"));
    try testing.expectEqual(@as(u64, 1), f.count("xord"));
}

test "out of memory at every allocation leaves no leak" {
    // checkAllAllocationFailures runs the function failing each allocation in
    // turn and fails on any leak along an error path.
    try testing.checkAllAllocationFailures(testing.allocator, struct {
        fn run(gpa: Allocator) !void {
            var f = Freq.init(gpa);
            defer f.deinit();
            _ = try f.addText("one two two three three three");
            const text = try f.topText(gpa, 2);
            gpa.free(text);
        }
    }.run, .{});
}

test "counting allocator counts blocks and bytes" {
    var c: CountingAllocator = .{ .child = testing.allocator };
    const gpa = c.allocator();
    const a = try gpa.alloc(u8, 100);
    var b = try gpa.alloc(u64, 4);
    try testing.expectEqual(@as(u64, 2), c.live_allocations.load(.monotonic));
    try testing.expectEqual(@as(u64, 132), c.live_bytes.load(.monotonic));
    b = try gpa.realloc(b, 8);
    try testing.expectEqual(@as(u64, 2), c.live_allocations.load(.monotonic));
    try testing.expectEqual(@as(u64, 164), c.live_bytes.load(.monotonic));
    gpa.free(a);
    gpa.free(b);
    try testing.expectEqual(@as(u64, 0), c.live_allocations.load(.monotonic));
    try testing.expectEqual(@as(u64, 0), c.live_bytes.load(.monotonic));
    try testing.expect(c.total_allocations.load(.monotonic) >= 2); // 3 when realloc moved the block
}

test "C ABI round trip returns every block" {
    const live0 = zfreq_live_allocations();
    const h = zfreq_new() orelse return error.OutOfMemory;
    const text = "to be or not to be";
    try testing.expectEqual(@as(i64, 6), zfreq_add_text(h, text.ptr, text.len));
    try testing.expectEqual(@as(u64, 2), zfreq_count(h, "be".ptr, 2));
    try testing.expectEqual(@as(u64, 4), zfreq_distinct(h));
    var len: usize = 0;
    const top = zfreq_top_text(h, 2, &len) orelse return error.OutOfMemory;
    try testing.expectEqualStrings("be 2\nto 2\n", top[0..len]);
    zfreq_text_free(top, len);
    try testing.expectEqual(@as(i64, -1), zfreq_add_text(null, text.ptr, text.len));
    try testing.expectEqual(@as(i64, -1), zfreq_add_text(h, null, 3));
    zfreq_free(h);
    try testing.expectEqual(live0, zfreq_live_allocations());
}
