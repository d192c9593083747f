//! zig build                    -> zig-out/lib/libzfreq.so (.dylib on macOS), the C ABI
//! zig build -Dleak=true        -> the same with the canary's leak compiled in
//! zig build test               -> the Zig tests, on std.testing.allocator (fails on any leak)
//! zig build memtest            -> the tests, then the memtest marker line, printed only
//!                                 when every test passed (what memtest runs as a suite)
//! Written for Zig 0.17 (`pip install ziglang==0.17.*`, run as `python3 -m ziglang`).

const std = @import("std");

pub fn build(b: *std.Build) void {
    const target = b.standardTargetOptions(.{});
    const optimize = b.standardOptimizeOption(.{});
    // -Dleak=true, or -Dvariant=leaky (memtest passes its ${variant} name this
    // way, so the canary of the test suite builds the leak in).
    const variant = b.option([]const u8, "variant", "memtest variant name: `leaky` means -Dleak=true") orelse "default";
    const leak = b.option(bool, "leak", "Compile in the canary's leak (a copy lost per repeated word)") orelse
        std.mem.eql(u8, variant, "leaky");

    const options = b.addOptions();
    options.addOption(bool, "leak", leak);

    const mod = b.createModule(.{
        .root_source_file = b.path("src/zfreq.zig"),
        .target = target,
        .optimize = optimize,
        .link_libc = true, // the C ABI allocates from the C heap
    });
    mod.addOptions("build_options", options);

    const lib = b.addLibrary(.{ .linkage = .dynamic, .name = "zfreq", .root_module = mod });
    b.installArtifact(lib);

    const tests = b.addTest(.{ .root_module = mod });
    const run_tests = b.addRunArtifact(tests);
    // Run every time, not from the cache: under memtest the run is the point.
    run_tests.has_side_effects = true;
    const test_step = b.step("test", "Run the Zig tests (std.testing.allocator fails a test that leaks)");
    test_step.dependOn(&run_tests.step);

    // The marker only after the test run succeeded: memtest's pass criterion
    // is this line plus exit status 0.
    const marker = b.addSystemCommand(&.{ "echo", "TEST PASSED" });
    marker.step.dependOn(&run_tests.step);
    marker.has_side_effects = true;
    const memtest_step = b.step("memtest", "Run the tests, then print the memtest marker");
    memtest_step.dependOn(&marker.step);
}
