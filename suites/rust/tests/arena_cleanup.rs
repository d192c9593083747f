//! arena_cleanup: the seed's "batched allocation cleanup". Results are held
//! in batches and dropped together, the way a caller holding a page of
//! thumbnails or an arena would; after every batch the live allocation count
//! must be exactly where it was before the batch. Checks also that a held
//! batch really is live on the heap, so the "back to start" half cannot pass
//! vacuously (results that owned nothing would return to start trivially).

use memsuite::{optimize, run_suite, Ctx, LeakCheck, LeakTally, Suite, Test, TestError};
use pyjamaz::{Options, Output};
use std::process::ExitCode;

/// Batches at scale 1 (times `BATCH_SIZE` = the seed's 10K operations).
const MAX_BATCHES: u32 = 100;
/// Results held at once: a fixed bound, so memory per batch does not scale.
const BATCH_SIZE: usize = 100;
const INPUTS: [&str; 3] = ["tiny.png", "small.jpg", "flat-128.png"];

static SUITE: Suite = Suite {
    name: "arena_cleanup",
    fixtures: &INPUTS,
    setup: memsuite::no_lib,
    tests: &[
        Test {
            name: "batches_dropped_together",
            warm_up,
            run: batches_dropped_together,
        },
        Test {
            name: "batches_dropped_out_of_order",
            warm_up,
            run: batches_dropped_out_of_order,
        },
        Test {
            name: "reused_arena",
            warm_up,
            run: reused_arena,
        },
    ],
};

fn main() -> ExitCode {
    run_suite(&SUITE)
}

fn warm_up(ctx: &Ctx) -> Result<(), TestError> {
    for name in INPUTS {
        optimize(name, ctx.fixture(name)?, &Options::default())?;
    }
    Ok(())
}

/// Fills `held` (already empty) with one batch of results; returns the
/// output bytes held.
fn fill_batch(ctx: &Ctx, batch: u32, held: &mut Vec<Output>) -> Result<u64, TestError> {
    let options = Options::default();
    let mut output_bytes: u64 = 0;
    for slot in 0..BATCH_SIZE {
        let name = INPUTS[(batch as usize + slot) % INPUTS.len()];
        let output = optimize(name, ctx.fixture(name)?, &options)?;
        assert!(!output.bytes.is_empty(), "{name}: empty output");
        output_bytes += output.bytes.len() as u64;
        held.push(output);
    }
    assert_eq!(held.len(), BATCH_SIZE, "batch not full");
    Ok(output_bytes)
}

/// The held batch must show on the heap: at least one allocation per result
/// and at least the bytes of all outputs.
fn assert_batch_is_live(check: &LeakCheck<'_>, output_bytes: u64) {
    let (allocations, bytes) = check.delta();
    assert!(
        allocations >= BATCH_SIZE as i64,
        "{BATCH_SIZE} held results but only {allocations} live allocations"
    );
    assert!(
        bytes >= output_bytes as i64,
        "{output_bytes} output bytes held but only {bytes} live bytes"
    );
}

fn batches_dropped_together(ctx: &Ctx) -> Result<u64, TestError> {
    let max_batches = ctx.iterations(MAX_BATCHES);
    let mut tally = LeakTally::new(max_batches);
    let mut done: u32 = 0;
    for batch in 0..max_batches {
        let check = ctx.leak_check("arena_cleanup::batches_dropped_together (one batch)");
        let mut held = Vec::with_capacity(BATCH_SIZE);
        let output_bytes = fill_batch(ctx, batch, &mut held)?;
        assert_batch_is_live(&check, output_bytes);
        drop(held);
        tally.record(batch, check.finish());
        done += 1;
    }
    assert_eq!(done, max_batches, "the loop ended early");
    tally.finish()?;
    Ok(u64::from(done) * BATCH_SIZE as u64)
}

/// Frees a batch in an order unlike allocation order: every other result
/// from the front, then the rest from the back. The count still returns.
fn batches_dropped_out_of_order(ctx: &Ctx) -> Result<u64, TestError> {
    let max_batches = ctx.iterations(MAX_BATCHES);
    let mut tally = LeakTally::new(max_batches);
    let mut done: u32 = 0;
    for batch in 0..max_batches {
        let check = ctx.leak_check("arena_cleanup::batches_dropped_out_of_order (one batch)");
        let mut held: Vec<Option<Output>> = Vec::with_capacity(BATCH_SIZE);
        let mut filled = Vec::with_capacity(BATCH_SIZE);
        let output_bytes = fill_batch(ctx, batch, &mut filled)?;
        held.extend(filled.into_iter().map(Some));
        assert_batch_is_live(&check, output_bytes);
        for slot in held.iter_mut().step_by(2) {
            *slot = None;
        }
        let mut released = 0usize;
        while let Some(slot) = held.pop() {
            released += usize::from(slot.is_some());
        }
        assert_eq!(released, BATCH_SIZE / 2, "odd slots released from the back");
        drop(held);
        tally.record(batch, check.finish());
        done += 1;
    }
    assert_eq!(done, max_batches, "the loop ended early");
    tally.finish()?;
    Ok(u64::from(done) * BATCH_SIZE as u64)
}

/// One container reused for every batch (`clear`, capacity kept), like an
/// arena reset that retains its capacity: after each reset the count is back
/// to what it was with the empty container.
fn reused_arena(ctx: &Ctx) -> Result<u64, TestError> {
    let max_batches = ctx.iterations(MAX_BATCHES);
    let mut arena: Vec<Output> = Vec::with_capacity(BATCH_SIZE);
    let capacity = arena.capacity();
    let mut tally = LeakTally::new(max_batches);
    let mut done: u32 = 0;
    for batch in 0..max_batches {
        let check = ctx.leak_check("arena_cleanup::reused_arena (one reset)");
        let output_bytes = fill_batch(ctx, batch, &mut arena)?;
        assert_batch_is_live(&check, output_bytes);
        arena.clear();
        assert_eq!(arena.capacity(), capacity, "the arena was reallocated");
        tally.record(batch, check.finish());
        done += 1;
    }
    assert_eq!(done, max_batches, "the loop ended early");
    assert!(arena.is_empty());
    tally.finish()?;
    Ok(u64::from(done) * BATCH_SIZE as u64)
}
