//! Tests of the Huffman pass: pixel-identical round trips on odd sizes and
//! gray images, refusal of what it does not handle, and the table builder.

use super::*;
use crate::decode::decode;
use crate::encode::{test_photo, Pixels};
use crate::format::Format;

/// What `encode::jpeg` writes before this pass: one interleaved 4:2:0
/// scan with the standard tables.
fn standard(pixels: &Pixels) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = jpeg_encoder::Encoder::new(&mut out, 85);
    encoder.set_sampling_factor(jpeg_encoder::SamplingFactor::R_4_2_0);
    encoder
        .encode(
            &pixels.rgb,
            pixels.width as u16,
            pixels.height as u16,
            jpeg_encoder::ColorType::Rgb,
        )
        .unwrap();
    out
}

fn rgb(jpeg: &[u8]) -> Vec<u8> {
    decode(Format::Jpeg, jpeg).unwrap().to_rgb8().into_raw()
}

#[test]
fn optimized_scan_is_smaller_and_decodes_to_the_same_pixels() {
    // Odd sizes leave partial MCUs, whose padding blocks are coded too.
    for (w, h) in [(1, 1), (17, 9), (64, 48), (301, 203)] {
        let pixels = Pixels::new(&test_photo(w, h));
        let before = standard(&pixels);
        let after = optimize(&before).unwrap_or_else(|| panic!("{w}x{h} not optimized"));
        assert!(
            after.len() < before.len(),
            "{w}x{h}: {} >= {}",
            after.len(),
            before.len()
        );
        assert_eq!(rgb(&after), rgb(&before), "{w}x{h}: pixels changed");
    }
}

#[test]
fn gray_single_component_scans_are_optimized_too() {
    let gray = image::DynamicImage::ImageLuma8(test_photo(40, 30).to_luma8());
    let mut before = Vec::new();
    let luma = gray.as_luma8().unwrap();
    jpeg_encoder::Encoder::new(&mut before, 80)
        .encode(luma.as_raw(), 40, 30, jpeg_encoder::ColorType::Luma)
        .unwrap();
    let after = optimize(&before).expect("a gray baseline file is understood");
    assert_eq!(rgb(&after), rgb(&before));
}

#[test]
fn files_it_does_not_understand_are_left_alone() {
    let pixels = Pixels::new(&test_photo(64, 48));
    let before = standard(&pixels);
    assert!(optimize(&before[..before.len() / 2]).is_none(), "truncated");
    assert!(optimize(b"\xFF\xD8\xFF\xE0garbage").is_none(), "garbage");
    let mut flipped = before.clone();
    let middle = flipped.len() - 40;
    flipped[middle..middle + 8].copy_from_slice(&[0x13; 8]);
    // Corrupt entropy data either fails to decode or stays consistent;
    // it must never panic.
    let _ = optimize(&flipped);
    for progressive in [false, true] {
        // jpeg-encoder's own optimized tables: one scan per component.
        let mut other = Vec::new();
        let mut encoder = jpeg_encoder::Encoder::new(&mut other, 85);
        encoder.set_optimized_huffman_tables(true);
        encoder.set_progressive(progressive);
        encoder
            .encode(&pixels.rgb, 64, 48, jpeg_encoder::ColorType::Rgb)
            .unwrap();
        assert!(optimize(&other).is_none(), "progressive {progressive}");
    }
}

/// Code lengths of each symbol of a table, from its counts.
fn lengths(table: &Table) -> Vec<(u8, usize)> {
    let mut out = Vec::new();
    let mut k = 0;
    for (i, &n) in table.counts.iter().enumerate() {
        for _ in 0..n {
            out.push((table.symbols[k], i + 1));
            k += 1;
        }
    }
    out
}

#[test]
fn optimal_tables_fit_16_bits_and_round_trip() {
    // Fibonacci frequencies: unlimited Huffman codes would reach 30 bits.
    let mut freq = [0u32; 256];
    let (mut a, mut b) = (1u32, 1u32);
    for f in freq.iter_mut().take(30) {
        *f = a;
        (a, b) = (b, a + b);
    }
    let table = Table::optimal(&freq);
    let lens = lengths(&table);
    assert_eq!(lens.len(), 30, "every used symbol gets a code");
    // Kraft sum strictly below 1: the all-ones code stays unused.
    let kraft: u64 = lens.iter().map(|&(_, l)| 1u64 << (16 - l)).sum();
    assert!(kraft < 1 << 16, "kraft {kraft}");
    // A more frequent symbol never gets a longer code.
    for &(a, len_a) in &lens {
        for &(b, len_b) in &lens {
            if freq[usize::from(a)] > freq[usize::from(b)] {
                assert!(len_a <= len_b, "{a}: {len_a} bits, {b}: {len_b} bits");
            }
        }
    }
    assert_eq!(
        lens.iter().map(|&(_, l)| l).max(),
        Some(16),
        "limited to 16 bits"
    );

    // Every code decodes back to its symbol.
    let codes = Codes::new(&table);
    let decoder = Decode::new(&table.counts, &table.symbols).unwrap();
    let mut data = Vec::new();
    let mut writer = BitWriter::new(&mut data);
    for s in 0..30 {
        writer.put(u32::from(codes.code[s]), u32::from(codes.size[s]));
    }
    writer.finish();
    let mut reader = BitReader::new(&data);
    for s in 0..30u8 {
        assert_eq!(decoder.decode(&mut reader), Some(s));
    }
    assert!(!reader.overran());
}

#[test]
fn over_subscribed_tables_are_refused() {
    let mut counts = [0u8; 16];
    counts[0] = 3; // three 1-bit codes cannot exist
    assert!(Decode::new(&counts, &[1, 2, 3]).is_none());
}
