//! Lossless Huffman optimization of a baseline JPEG: what `jpegtran -optimize`
//! and libjpeg's `optimize_coding` do, as a pass over an encoded file.
//!
//! Why a pass of our own: `jpeg-encoder` builds optimized tables only in its
//! sequential mode, which writes one *non-interleaved* scan per component.
//! Those files are valid, but zune-jpeg 0.5.15 (the decoder of `image` 0.25,
//! so of most Rust programs and of this engine) decodes non-interleaved 4:2:0
//! scans to garbage without an error. So the encoder writes its fast
//! interleaved scan with the standard tables, and this pass re-codes the same
//! symbols with tables built from their frequencies (the IJG algorithm,
//! `jpeg_gen_optimal_table`). The coefficients are untouched: the result
//! decodes to exactly the same pixels, and it is never larger.
//!
//! Only what our encoder writes is handled (SOF0, one scan holding every
//! component, no restart markers); anything else is left as it is.

/// Re-codes the scan of `jpeg` with optimal Huffman tables. `None` when the
/// file is not a single-scan baseline JPEG this pass understands, or when
/// the optimized file would not be smaller.
pub(crate) fn optimize(jpeg: &[u8]) -> Option<Vec<u8>> {
    let parsed = parse(jpeg)?;
    let (tokens, freq) = tokenize(&parsed, &jpeg[parsed.scan_start..parsed.scan_end])?;
    let tables: Vec<Option<Table>> = freq
        .iter()
        .map(|f| f.iter().any(|&n| n > 0).then(|| Table::optimal(f)))
        .collect();

    let mut out = Vec::with_capacity(jpeg.len());
    for segment in &parsed.kept {
        out.extend_from_slice(segment);
    }
    for (slot, table) in tables.iter().enumerate() {
        if let Some(table) = table {
            table.write_dht(slot, &mut out);
        }
    }
    out.extend_from_slice(&jpeg[parsed.sos_start..parsed.scan_start]);
    let codes: Vec<Option<Codes>> = tables.iter().map(|t| t.as_ref().map(Codes::new)).collect();
    let mut writer = BitWriter::new(&mut out);
    for t in &tokens {
        let codes = codes[t.slot()]
            .as_ref()
            .expect("a table for every used slot");
        // One put of code and extra bits: at most 16 + 15 bits.
        let (symbol, extra_bits) = (t.symbol(), u32::from(t.extra_bits()));
        let code = u32::from(codes.code[symbol]) << extra_bits | u32::from(t.extra());
        writer.put(code, u32::from(codes.size[symbol]) + extra_bits);
    }
    writer.finish();
    out.extend_from_slice(&[0xFF, 0xD9]);
    (out.len() < jpeg.len()).then_some(out)
}

/// Huffman tables are addressed by slot = class * 4 + id (DC 0..3, AC 4..7).
const SLOTS: usize = 8;

struct Component {
    id: u8,
    h: usize,
    v: usize,
}

struct ScanComponent {
    /// Index into the frame's components.
    frame_index: usize,
    dc_slot: usize,
    ac_slot: usize,
}

struct Parsed<'a> {
    /// Segments kept as they are (SOI, APPn, DQT, SOF0, ...), before the SOS.
    kept: Vec<&'a [u8]>,
    width: usize,
    height: usize,
    components: Vec<Component>,
    scan: Vec<ScanComponent>,
    /// Decoding tables of the file, by slot.
    tables: Vec<Option<Decode>>,
    sos_start: usize,
    scan_start: usize,
    scan_end: usize,
}

fn parse(jpeg: &[u8]) -> Option<Parsed<'_>> {
    if !jpeg.starts_with(&[0xFF, 0xD8]) {
        return None;
    }
    let mut kept: Vec<&[u8]> = vec![&jpeg[..2]];
    let mut tables: Vec<Option<Decode>> = (0..SLOTS).map(|_| None).collect();
    let mut frame: Option<(usize, usize, Vec<Component>)> = None;
    let mut pos = 2;
    loop {
        if jpeg.get(pos)? != &0xFF {
            return None;
        }
        let marker = *jpeg.get(pos + 1)?;
        let len = usize::from(u16::from_be_bytes([
            *jpeg.get(pos + 2)?,
            *jpeg.get(pos + 3)?,
        ]));
        let body = jpeg.get(pos + 4..pos + 2 + len)?;
        match marker {
            // Only baseline frames, no arithmetic coding, no restart intervals.
            0xC1..=0xC3 | 0xC5..=0xCF | 0xDD => return None,
            0xC0 => {
                let height = usize::from(u16::from_be_bytes([*body.get(1)?, *body.get(2)?]));
                let width = usize::from(u16::from_be_bytes([*body.get(3)?, *body.get(4)?]));
                let n = usize::from(*body.get(5)?);
                let components = (0..n)
                    .map(|i| {
                        let c = body.get(6 + 3 * i..9 + 3 * i)?;
                        let (h, v) = (usize::from(c[1] >> 4), usize::from(c[1] & 15));
                        (h >= 1 && v >= 1).then_some(Component { id: c[0], h, v })
                    })
                    .collect::<Option<Vec<_>>>()?;
                if width == 0 || height == 0 || components.is_empty() {
                    return None;
                }
                frame = Some((width, height, components));
                kept.push(&jpeg[pos..pos + 2 + len]);
            }
            0xC4 => {
                let mut rest = body;
                while !rest.is_empty() {
                    let (class, id) = (rest[0] >> 4, rest[0] & 15);
                    if class > 1 || id > 3 {
                        return None;
                    }
                    let counts: [u8; 16] = rest.get(1..17)?.try_into().ok()?;
                    let total: usize = counts.iter().map(|&c| usize::from(c)).sum();
                    let symbols = rest.get(17..17 + total)?;
                    tables[usize::from(class) * 4 + usize::from(id)] =
                        Some(Decode::new(&counts, symbols)?);
                    rest = &rest[17 + total..];
                }
            }
            0xDA => {
                let (width, height, components) = frame?;
                let n = usize::from(*body.first()?);
                let scan = (0..n)
                    .map(|i| {
                        let c = body.get(1 + 2 * i..3 + 2 * i)?;
                        let frame_index = components.iter().position(|f| f.id == c[0])?;
                        let (dc, ac) = (usize::from(c[1] >> 4), usize::from(c[1] & 15));
                        (dc < 4 && ac < 4).then_some(ScanComponent {
                            frame_index,
                            dc_slot: dc,
                            ac_slot: 4 + ac,
                        })
                    })
                    .collect::<Option<Vec<_>>>()?;
                // One scan with every component, full spectrum, no approximation.
                if n != components.len() || body.get(1 + 2 * n..4 + 2 * n)? != [0, 63, 0] {
                    return None;
                }
                if n == 1 && (components[0].h, components[0].v) != (1, 1) {
                    return None;
                }
                let scan_start = pos + 2 + len;
                let scan_end = scan_start + entropy_len(&jpeg[scan_start..])?;
                // After the scan only EOI may follow.
                if jpeg.get(scan_end..scan_end + 2)? != [0xFF, 0xD9] {
                    return None;
                }
                return Some(Parsed {
                    kept,
                    width,
                    height,
                    components,
                    scan,
                    tables,
                    sos_start: pos,
                    scan_start,
                    scan_end,
                });
            }
            0xD8 | 0xD9 | 0x01 | 0xD0..=0xD7 => return None,
            _ => kept.push(&jpeg[pos..pos + 2 + len]),
        }
        pos += 2 + len;
    }
}

/// Length of the entropy-coded data: up to the first marker that is not a
/// stuffed zero (restart markers are refused by `parse`).
fn entropy_len(data: &[u8]) -> Option<usize> {
    let mut pos = 0;
    loop {
        pos += data.get(pos..)?.iter().position(|&b| b == 0xFF)?;
        if *data.get(pos + 1)? != 0 {
            return Some(pos);
        }
        pos += 2;
    }
}

/// One coded symbol and its extra bits, packed in 32 bits (half the memory
/// of a field each, and the pass runs over a million of them on a 1.5 MP
/// photograph): slot (3 bits), symbol (8), extra bits count (4, at most 11
/// in 8-bit baseline), extra value (11).
#[derive(Clone, Copy)]
struct Token(u32);

/// Longest run of extra bits in an 8-bit baseline scan (a DC difference).
const MAX_EXTRA_BITS: u8 = 11;

impl Token {
    fn new(slot: usize, symbol: u8, bits: u8, extra: u16) -> Token {
        debug_assert!(bits <= MAX_EXTRA_BITS && u32::from(extra) < 1 << bits.max(1));
        Token(
            ((slot as u32) << 23)
                | (u32::from(symbol) << 15)
                | (u32::from(bits) << 11)
                | u32::from(extra),
        )
    }
    fn slot(self) -> usize {
        (self.0 >> 23) as usize
    }
    fn symbol(self) -> usize {
        ((self.0 >> 15) & 0xFF) as usize
    }
    fn extra_bits(self) -> u8 {
        ((self.0 >> 11) & 15) as u8
    }
    fn extra(self) -> u16 {
        (self.0 & 0x7FF) as u16
    }
}

/// Symbol counts per table slot.
type Frequencies = [[u32; 256]; SLOTS];

/// Decodes every block of the scan into tokens, counting symbols on the way;
/// `None` on any inconsistency (a code not in its table, data running out, a
/// missing table).
fn tokenize(p: &Parsed<'_>, data: &[u8]) -> Option<(Vec<Token>, Frequencies)> {
    let h_max = p.components.iter().map(|c| c.h).max()?;
    let v_max = p.components.iter().map(|c| c.v).max()?;
    let mcus_x = p.width.div_ceil(8 * h_max);
    let mcus_y = p.height.div_ceil(8 * v_max);
    let blocks_per_mcu: usize = p
        .scan
        .iter()
        .map(|s| p.components[s.frame_index].h * p.components[s.frame_index].v)
        .sum();
    for s in &p.scan {
        p.tables[s.dc_slot].as_ref()?;
        p.tables[s.ac_slot].as_ref()?;
    }
    // The test images take 1.5-1.65 tokens per byte of scan data; room for 1.75
    // plus one per block, so the vector rarely regrows.
    let mut tokens = Vec::with_capacity(data.len() * 7 / 4 + mcus_x * mcus_y * blocks_per_mcu);
    let mut freq = [[0u32; 256]; SLOTS];
    let mut reader = BitReader::new(data);
    for _ in 0..mcus_x * mcus_y {
        for s in &p.scan {
            let c = &p.components[s.frame_index];
            let dc = p.tables[s.dc_slot].as_ref()?;
            let ac = p.tables[s.ac_slot].as_ref()?;
            for _ in 0..c.h * c.v {
                let size = dc.decode(&mut reader)?;
                if size > MAX_EXTRA_BITS {
                    return None;
                }
                freq[s.dc_slot][usize::from(size)] += 1;
                tokens.push(Token::new(s.dc_slot, size, size, reader.bits(size)));
                let mut k = 1;
                while k < 64 {
                    let rs = ac.decode(&mut reader)?;
                    let (run, size) = (rs >> 4, rs & 15);
                    if size > MAX_EXTRA_BITS {
                        return None;
                    }
                    freq[s.ac_slot][usize::from(rs)] += 1;
                    tokens.push(Token::new(s.ac_slot, rs, size, reader.bits(size)));
                    if size == 0 {
                        if run != 15 {
                            break; // end of block
                        }
                        k += 16;
                    } else {
                        k += usize::from(run) + 1;
                    }
                }
                if k > 64 {
                    return None;
                }
            }
        }
    }
    (!reader.overran()).then_some((tokens, freq))
}

/// Reads the entropy-coded bits, removing the stuffed zero after each 0xFF.
struct BitReader<'a> {
    data: &'a [u8],
    pos: usize,
    acc: u64,
    count: u32,
    /// Bits fed past the end of the data (as zeros).
    overrun: u32,
}

impl<'a> BitReader<'a> {
    fn new(data: &'a [u8]) -> BitReader<'a> {
        BitReader {
            data,
            pos: 0,
            acc: 0,
            count: 0,
            overrun: 0,
        }
    }

    fn refill(&mut self) {
        while self.count <= 56 {
            let byte = match self.data.get(self.pos) {
                Some(&b) => {
                    self.pos += if b == 0xFF { 2 } else { 1 };
                    b
                }
                None => {
                    self.overrun += 8;
                    0
                }
            };
            self.acc |= u64::from(byte) << (56 - self.count);
            self.count += 8;
        }
    }

    fn peek(&mut self, n: u32) -> u32 {
        if self.count < n {
            self.refill();
        }
        (self.acc >> (64 - n)) as u32
    }

    fn consume(&mut self, n: u32) {
        self.acc <<= n;
        self.count -= n;
    }

    fn bits(&mut self, n: u8) -> u16 {
        if n == 0 {
            return 0;
        }
        let v = self.peek(u32::from(n)) as u16;
        self.consume(u32::from(n));
        v
    }

    /// Whether the scan needed more bits than the data holds. Peeking past the
    /// end is fine (the fast lookup reads 9 bits ahead); consuming is not.
    fn overran(&self) -> bool {
        self.overrun.saturating_sub(self.count) > 0
    }
}

/// Canonical decoding of one table: a 9-bit lookup, then the classic
/// per-length walk (ITU T.81 F.2.2.3) for longer codes.
struct Decode {
    /// (symbol, length) for codes of at most `FAST` bits, keyed by the next
    /// `FAST` bits; length 0 = longer code.
    fast: Vec<(u8, u8)>,
    max_code: [i32; 17],
    val_offset: [i32; 17],
    symbols: Vec<u8>,
}

const FAST: u32 = 9;

impl Decode {
    fn new(counts: &[u8; 16], symbols: &[u8]) -> Option<Decode> {
        let mut fast = vec![(0u8, 0u8); 1 << FAST];
        let mut max_code = [-1i32; 17];
        let mut val_offset = [0i32; 17];
        let (mut code, mut k) = (0i32, 0usize);
        for len in 1..=16usize {
            let n = usize::from(counts[len - 1]);
            val_offset[len] = k as i32 - code;
            for _ in 0..n {
                if code >= 1 << len {
                    return None; // over-subscribed table
                }
                if len as u32 <= FAST {
                    let shift = FAST - len as u32;
                    let first = (code as usize) << shift;
                    for entry in &mut fast[first..first + (1 << shift)] {
                        *entry = (symbols[k], len as u8);
                    }
                }
                code += 1;
                k += 1;
            }
            if n > 0 {
                max_code[len] = code - 1;
            }
            code <<= 1;
        }
        Some(Decode {
            fast,
            max_code,
            val_offset,
            symbols: symbols.to_vec(),
        })
    }

    fn decode(&self, r: &mut BitReader<'_>) -> Option<u8> {
        let (symbol, len) = self.fast[r.peek(FAST) as usize];
        if len > 0 {
            r.consume(u32::from(len));
            return Some(symbol);
        }
        let bits = r.peek(16) as i32;
        for len in FAST as usize + 1..=16 {
            let code = bits >> (16 - len);
            if code <= self.max_code[len] {
                r.consume(len as u32);
                return self
                    .symbols
                    .get((code + self.val_offset[len]) as usize)
                    .copied();
            }
        }
        None
    }
}

/// An optimal table: code-length counts and symbols in code order.
struct Table {
    counts: [u8; 16],
    symbols: Vec<u8>,
}

impl Table {
    /// `jpeg_gen_optimal_table` of the IJG library (jchuff.c): Huffman code
    /// lengths from the frequencies, limited to 16 bits, with the all-ones
    /// code point kept free by a pseudo-symbol.
    fn optimal(freq: &[u32; 256]) -> Table {
        let mut f = [0u64; 257];
        for (dst, &src) in f.iter_mut().zip(freq) {
            *dst = u64::from(src);
        }
        f[256] = 1;
        let mut code_size = [0usize; 257];
        let mut others = [usize::MAX; 257];
        loop {
            // The two smallest nonzero frequencies; ties go to the larger index.
            let smallest = |skip: usize| {
                (0..257)
                    .filter(|&i| f[i] > 0 && i != skip)
                    .fold(None, |best: Option<usize>, i| match best {
                        Some(b) if f[b] < f[i] => Some(b),
                        _ => Some(i),
                    })
            };
            let Some(mut c1) = smallest(usize::MAX) else {
                break;
            };
            let Some(mut c2) = smallest(c1) else {
                break;
            };
            f[c1] += f[c2];
            f[c2] = 0;
            code_size[c1] += 1;
            while others[c1] != usize::MAX {
                c1 = others[c1];
                code_size[c1] += 1;
            }
            others[c1] = c2;
            code_size[c2] += 1;
            while others[c2] != usize::MAX {
                c2 = others[c2];
                code_size[c2] += 1;
            }
        }
        let mut bits = [0u32; 33];
        for &size in code_size.iter().filter(|&&s| s > 0) {
            bits[size.min(32)] += 1;
        }
        // Shorten codes over 16 bits, the JPEG limit (K.3 of T.81).
        for i in (17..=32).rev() {
            while bits[i] > 0 {
                let mut j = i - 2;
                while bits[j] == 0 {
                    j -= 1;
                }
                bits[i] -= 2;
                bits[i - 1] += 1;
                bits[j + 1] += 2;
                bits[j] -= 1;
            }
        }
        // Drop the pseudo-symbol: one code of the longest length.
        let mut longest = 16;
        while bits[longest] == 0 {
            longest -= 1;
        }
        bits[longest] -= 1;
        let mut counts = [0u8; 16];
        for (len, count) in counts.iter_mut().enumerate() {
            *count = bits[len + 1] as u8;
        }
        let mut symbols = Vec::new();
        for len in 1..=32 {
            symbols.extend((0..256).filter(|&s| code_size[s] == len).map(|s| s as u8));
        }
        Table { counts, symbols }
    }

    fn write_dht(&self, slot: usize, out: &mut Vec<u8>) {
        let len = 2 + 1 + 16 + self.symbols.len();
        out.extend_from_slice(&[0xFF, 0xC4]);
        out.extend_from_slice(&(len as u16).to_be_bytes());
        out.push((((slot / 4) << 4) | (slot % 4)) as u8);
        out.extend_from_slice(&self.counts);
        out.extend_from_slice(&self.symbols);
    }
}

/// Encoding codes of a table, by symbol.
struct Codes {
    code: [u16; 256],
    size: [u8; 256],
}

impl Codes {
    fn new(table: &Table) -> Codes {
        let mut codes = Codes {
            code: [0; 256],
            size: [0; 256],
        };
        let (mut code, mut k) = (0u32, 0usize);
        for len in 1..=16u8 {
            for _ in 0..table.counts[usize::from(len) - 1] {
                let symbol = usize::from(table.symbols[k]);
                // Below 2^len: the optimal tables never use the all-ones code.
                codes.code[symbol] = code as u16;
                codes.size[symbol] = len;
                code += 1;
                k += 1;
            }
            code <<= 1;
        }
        codes
    }
}

/// Writes entropy-coded bits, stuffing a zero after each 0xFF byte.
struct BitWriter<'a> {
    out: &'a mut Vec<u8>,
    acc: u64,
    /// Bits in `acc` not yet written; below 32 between calls.
    count: u32,
}

impl<'a> BitWriter<'a> {
    fn new(out: &'a mut Vec<u8>) -> BitWriter<'a> {
        BitWriter {
            out,
            acc: 0,
            count: 0,
        }
    }

    /// Appends the low `bits` (at most 32) of `value`.
    #[inline]
    fn put(&mut self, value: u32, bits: u32) {
        if bits == 0 {
            return;
        }
        let mask = u64::MAX >> (64 - bits);
        self.acc = (self.acc << bits) | (u64::from(value) & mask);
        self.count += bits;
        if self.count >= 32 {
            self.count -= 32;
            let word = (self.acc >> self.count) as u32;
            // Four bytes at once unless one of them is 0xFF (then stuffed).
            let inverted = !word;
            if inverted.wrapping_sub(0x0101_0101) & !inverted & 0x8080_8080 == 0 {
                self.out.extend_from_slice(&word.to_be_bytes());
            } else {
                for byte in word.to_be_bytes() {
                    self.out.push(byte);
                    if byte == 0xFF {
                        self.out.push(0);
                    }
                }
            }
        }
    }

    /// Writes what is left, the last byte padded with ones (T.81 F.1.2.3).
    fn finish(mut self) {
        let pad = (8 - self.count % 8) % 8;
        self.put((1 << pad) - 1, pad);
        while self.count >= 8 {
            self.count -= 8;
            let byte = (self.acc >> self.count) as u8;
            self.out.push(byte);
            if byte == 0xFF {
                self.out.push(0);
            }
        }
    }
}

#[cfg(test)]
mod tests;
