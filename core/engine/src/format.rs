//! Image format detection from magic bytes, and a structural walk of each
//! container that tells a file that *ends early* from one that is *malformed*.
//!
//! Why a walk of our own: the decoders disagree on truncation. zune-jpeg
//! happily decodes half a JPEG and fills the rest with grey; the png crate
//! reports a generic error. Walking the container (PNG chunks, JPEG markers and
//! entropy-coded segments, GIF blocks, RIFF chunks) gives one rule for all
//! formats: if the structure is well-formed up to the last byte and still
//! needs more, the input is truncated; if a structural element is invalid
//! (not a chunk type, not a marker, not a block introducer), it is corrupt.

/// An image format the optimizer reads (and, except GIF, writes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    Jpeg,
    Png,
    Webp,
    Gif,
}

impl Format {
    /// The formats the optimizer can encode candidates in.
    pub const ENCODABLE: [Format; 3] = [Format::Jpeg, Format::Png, Format::Webp];

    /// The lowercase name used in options and results.
    pub fn name(self) -> &'static str {
        match self {
            Format::Jpeg => "jpeg",
            Format::Png => "png",
            Format::Webp => "webp",
            Format::Gif => "gif",
        }
    }

    /// The same name as a static NUL-terminated string for the C ABI.
    pub fn c_name(self) -> &'static std::ffi::CStr {
        match self {
            Format::Jpeg => c"jpeg",
            Format::Png => c"png",
            Format::Webp => c"webp",
            Format::Gif => c"gif",
        }
    }

    /// Parses a name of the `formats` option. `jpg` is accepted as an alias
    /// because users type it; `gif` is not, as no GIF encoder is offered.
    pub fn from_option_name(name: &str) -> Option<Format> {
        match name {
            "jpeg" | "jpg" => Some(Format::Jpeg),
            "png" => Some(Format::Png),
            "webp" => Some(Format::Webp),
            _ => None,
        }
    }

    pub(crate) fn image_format(self) -> image::ImageFormat {
        match self {
            Format::Jpeg => image::ImageFormat::Jpeg,
            Format::Png => image::ImageFormat::Png,
            Format::Webp => image::ImageFormat::WebP,
            Format::Gif => image::ImageFormat::Gif,
        }
    }
}

const PNG_SIGNATURE: &[u8; 8] = b"\x89PNG\r\n\x1a\n";

/// Detects the format from the leading magic bytes.
pub fn sniff(bytes: &[u8]) -> Option<Format> {
    if bytes.starts_with(PNG_SIGNATURE) {
        Some(Format::Png)
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(Format::Jpeg)
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some(Format::Gif)
    } else if bytes.len() >= 12 && &bytes[0..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some(Format::Webp)
    } else {
        None
    }
}

/// What the structural walk found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Structure {
    /// The container is complete (trailing bytes after its end are allowed).
    Complete,
    /// Well-formed so far, but the data ends before the container does.
    EndsEarly(&'static str),
    /// A structural element is invalid.
    Malformed(&'static str),
}

/// Walks the container of `bytes`, already sniffed as `format`.
pub fn structure(format: Format, bytes: &[u8]) -> Structure {
    match format {
        Format::Png => png_structure(bytes),
        Format::Jpeg => jpeg_structure(bytes),
        Format::Gif => gif_structure(bytes),
        Format::Webp => webp_structure(bytes),
    }
}

fn be32(b: &[u8]) -> usize {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize
}

fn png_structure(bytes: &[u8]) -> Structure {
    let mut pos = PNG_SIGNATURE.len();
    loop {
        if bytes.len() < pos + 8 {
            return Structure::EndsEarly("before IEND chunk");
        }
        let len = be32(&bytes[pos..]);
        let kind = &bytes[pos + 4..pos + 8];
        if !kind.iter().all(u8::is_ascii_alphabetic) || len > i32::MAX as usize {
            return Structure::Malformed("invalid chunk header");
        }
        // length + type + data + crc
        let end = pos + 12 + len;
        if bytes.len() < end {
            return Structure::EndsEarly("inside a chunk");
        }
        if kind == b"IEND" {
            return Structure::Complete;
        }
        pos = end;
    }
}

fn jpeg_structure(bytes: &[u8]) -> Structure {
    let mut pos = 2; // after SOI
    loop {
        // Markers may be preceded by any number of 0xFF fill bytes.
        if pos >= bytes.len() {
            return Structure::EndsEarly("before EOI marker");
        }
        if bytes[pos] != 0xFF {
            return Structure::Malformed("expected a marker");
        }
        while pos < bytes.len() && bytes[pos] == 0xFF {
            pos += 1;
        }
        let Some(&marker) = bytes.get(pos) else {
            return Structure::EndsEarly("inside a marker");
        };
        pos += 1;
        match marker {
            0xD9 => return Structure::Complete,
            0x00 | 0xD8 => return Structure::Malformed("invalid marker"),
            0x01 | 0xD0..=0xD7 => continue, // standalone markers
            _ => {}
        }
        if bytes.len() < pos + 2 {
            return Structure::EndsEarly("inside a segment length");
        }
        let len = u16::from_be_bytes([bytes[pos], bytes[pos + 1]]) as usize;
        if len < 2 {
            return Structure::Malformed("segment length below 2");
        }
        pos += len;
        if bytes.len() < pos {
            return Structure::EndsEarly("inside a segment");
        }
        if marker == 0xDA {
            // Entropy-coded data follows SOS: it ends at the first 0xFF that
            // is neither a stuffed zero nor a restart marker nor fill.
            loop {
                match memchr_ff(&bytes[pos..]) {
                    None => return Structure::EndsEarly("inside entropy-coded data"),
                    Some(offset) => pos += offset,
                }
                match bytes.get(pos + 1) {
                    None => return Structure::EndsEarly("inside entropy-coded data"),
                    Some(0x00) | Some(0xD0..=0xD7) => pos += 2,
                    Some(0xFF) => pos += 1,
                    Some(_) => break,
                }
            }
        }
    }
}

fn memchr_ff(bytes: &[u8]) -> Option<usize> {
    // SIMD search: this walk reads every byte of the entropy-coded data, and
    // a byte-at-a-time loop was ~2% of a whole decode + encode.
    memchr::memchr(0xFF, bytes)
}

/// Skips GIF data sub-blocks starting at `pos`; returns the position after
/// the block terminator.
fn gif_sub_blocks(bytes: &[u8], mut pos: usize) -> Result<usize, Structure> {
    loop {
        let Some(&len) = bytes.get(pos) else {
            return Err(Structure::EndsEarly("inside data sub-blocks"));
        };
        pos += 1 + len as usize;
        if len == 0 {
            return Ok(pos);
        }
        if pos > bytes.len() {
            return Err(Structure::EndsEarly("inside a data sub-block"));
        }
    }
}

fn gif_color_table_len(flags: u8) -> usize {
    if flags & 0x80 != 0 {
        3 << ((flags & 0x07) + 1)
    } else {
        0
    }
}

fn gif_structure(bytes: &[u8]) -> Structure {
    // header (6) + logical screen descriptor (7)
    if bytes.len() < 13 {
        return Structure::EndsEarly("inside the screen descriptor");
    }
    let mut pos = 13 + gif_color_table_len(bytes[10]);
    loop {
        let Some(&intro) = bytes.get(pos) else {
            return Structure::EndsEarly("before the trailer");
        };
        let next = match intro {
            0x3B => return Structure::Complete,
            0x21 => gif_sub_blocks(bytes, pos + 2),
            0x2C => {
                if bytes.len() < pos + 10 {
                    return Structure::EndsEarly("inside an image descriptor");
                }
                // descriptor (10) + local colour table + LZW minimum code size (1)
                let start = pos + 10 + gif_color_table_len(bytes[pos + 9]) + 1;
                if bytes.len() < start {
                    return Structure::EndsEarly("inside a colour table");
                }
                gif_sub_blocks(bytes, start)
            }
            _ => return Structure::Malformed("invalid block introducer"),
        };
        match next {
            Ok(next) => pos = next,
            Err(found) => return found,
        }
    }
}

fn webp_structure(bytes: &[u8]) -> Structure {
    let riff_len = u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]) as usize;
    if riff_len < 4 {
        return Structure::Malformed("riff size below 4");
    }
    let end = 8 + riff_len;
    if bytes.len() < end {
        return Structure::EndsEarly("before the riff size");
    }
    let mut pos = 12;
    while pos < end {
        if end < pos + 8 {
            return Structure::Malformed("chunk header crosses the riff end");
        }
        if !bytes[pos..pos + 4]
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b' ')
        {
            return Structure::Malformed("invalid chunk fourcc");
        }
        let len = u32::from_le_bytes([
            bytes[pos + 4],
            bytes[pos + 5],
            bytes[pos + 6],
            bytes[pos + 7],
        ]) as usize;
        // chunks are padded to an even size
        pos += 8 + len + (len & 1);
        if pos > end + 1 {
            return Structure::Malformed("chunk crosses the riff end");
        }
    }
    Structure::Complete
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_magic_bytes() {
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\nrest"), Some(Format::Png));
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0]), Some(Format::Jpeg));
        assert_eq!(sniff(b"GIF89a..."), Some(Format::Gif));
        assert_eq!(sniff(b"RIFF\0\0\0\0WEBPVP8 "), Some(Format::Webp));
        assert_eq!(sniff(b"RIFF\0\0\0\0WAVE"), None);
        assert_eq!(sniff(b"BM"), None);
        assert_eq!(sniff(b""), None);
    }

    #[test]
    fn png_walk_tells_truncated_from_garbage() {
        let mut png = PNG_SIGNATURE.to_vec();
        png.extend_from_slice(&13u32.to_be_bytes());
        png.extend_from_slice(b"IHDR");
        png.extend_from_slice(&[0; 13 + 4]);
        assert_eq!(
            structure(Format::Png, &png),
            Structure::EndsEarly("before IEND chunk")
        );
        let mut complete = png.clone();
        complete.extend_from_slice(&[0, 0, 0, 0]);
        complete.extend_from_slice(b"IEND");
        complete.extend_from_slice(&[0xAE, 0x42, 0x60, 0x82]);
        assert_eq!(structure(Format::Png, &complete), Structure::Complete);
        let mut garbage = png.clone();
        garbage.extend_from_slice(&[0x13, 0x99, 0x01, 0x7F, 0xC3, 0x00, 0x5A, 0xEE, 1, 2]);
        assert!(matches!(
            structure(Format::Png, &garbage),
            Structure::Malformed(_)
        ));
    }

    #[test]
    fn jpeg_walk_follows_entropy_data_to_eoi() {
        // SOI, a 4-byte APP0, SOS with 2-byte header, data with a stuffed 0xFF00
        // and a restart marker, then EOI.
        let jpeg = [
            0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x04, 0xAA, 0xBB, 0xFF, 0xDA, 0x00, 0x02, 0x12, 0xFF,
            0x00, 0x34, 0xFF, 0xD0, 0x56, 0xFF, 0xD9,
        ];
        assert_eq!(structure(Format::Jpeg, &jpeg), Structure::Complete);
        assert!(matches!(
            structure(Format::Jpeg, &jpeg[..15]),
            Structure::EndsEarly(_)
        ));
        let mut garbage = jpeg[..8].to_vec();
        garbage.extend_from_slice(&[0x13, 0x37, 0x00]);
        assert!(matches!(
            structure(Format::Jpeg, &garbage),
            Structure::Malformed(_)
        ));
    }

    #[test]
    fn gif_walk_needs_the_trailer() {
        let mut gif = b"GIF89a".to_vec();
        gif.extend_from_slice(&[1, 0, 1, 0, 0x80, 0, 0]); // 2-entry global table
        gif.extend_from_slice(&[0, 0, 0, 255, 255, 255]);
        gif.extend_from_slice(&[0x2C, 0, 0, 0, 0, 1, 0, 1, 0, 0, 2, 2, 0x4C, 0x01, 0, 0x3B]);
        assert_eq!(structure(Format::Gif, &gif), Structure::Complete);
        assert!(matches!(
            structure(Format::Gif, &gif[..gif.len() - 1]),
            Structure::EndsEarly(_)
        ));
        let mut garbage = gif[..19].to_vec();
        garbage.push(0x99);
        assert!(matches!(
            structure(Format::Gif, &garbage),
            Structure::Malformed(_)
        ));
    }

    #[test]
    fn webp_walk_checks_the_riff_size() {
        let mut webp = b"RIFF".to_vec();
        webp.extend_from_slice(&14u32.to_le_bytes());
        webp.extend_from_slice(b"WEBPVP8L");
        webp.extend_from_slice(&2u32.to_le_bytes());
        webp.extend_from_slice(&[0x2F, 0]);
        assert_eq!(structure(Format::Webp, &webp), Structure::Complete);
        assert!(matches!(
            structure(Format::Webp, &webp[..webp.len() - 1]),
            Structure::EndsEarly(_)
        ));
    }
}
