//! The optimizer: decode, encode candidates in the allowed formats, keep the
//! original, and pick the smallest candidate that meets the size budget and
//! the perceptual-distance limit.

use std::cell::OnceCell;

use image::DynamicImage;

use crate::decode;
use crate::encode::{self, Pixels};
use crate::error::Error;
use crate::format::{self, Format};
use crate::ssim::{self, Luma};

/// How the distance between a candidate and the original is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Metric {
    /// 1 - SSIM of the luma planes (see `ssim`).
    #[default]
    Ssim,
    /// No measurement: every candidate's distance is reported as 0 and
    /// `max_diff` cannot reject anything.
    None,
}

impl Metric {
    /// Parses a metric name of the C ABI.
    pub fn from_name(name: &str) -> Result<Metric, Error> {
        match name {
            "ssim" => Ok(Metric::Ssim),
            "none" => Ok(Metric::None),
            other => Err(Error::InvalidOptions(format!(
                "unknown metric {other:?} (expected \"ssim\" or \"none\")"
            ))),
        }
    }
}

/// What to optimize for.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// Size budget of the output; `None` = no budget.
    pub max_bytes: Option<u64>,
    /// Largest distance allowed; `None` = no limit.
    pub max_diff: Option<f64>,
    pub metric: Metric,
    /// Formats candidates may be encoded in; empty = all.
    pub formats: Vec<Format>,
    /// Threads used across formats; 0 or 1 = sequential.
    pub concurrency: u32,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_bytes: None,
            max_diff: None,
            metric: Metric::Ssim,
            formats: Vec::new(),
            concurrency: 1,
        }
    }
}

/// Parses the `formats` option: a comma list, blanks around names ignored;
/// empty = all.
pub fn parse_formats(list: &str) -> Result<Vec<Format>, Error> {
    let mut formats = Vec::new();
    for name in list.split(',').map(str::trim) {
        if name.is_empty() && list.trim().is_empty() {
            break;
        }
        let format = Format::from_option_name(name).ok_or_else(|| {
            Error::InvalidOptions(format!(
                "unknown format {name:?} (expected jpeg, png or webp)"
            ))
        })?;
        if !formats.contains(&format) {
            formats.push(format);
        }
    }
    Ok(formats)
}

/// The chosen candidate.
#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    pub bytes: Vec<u8>,
    pub format: Format,
    /// Distance of `bytes` from the original (0 with metric `none`).
    pub diff: f64,
    /// Whether `bytes` meets both `max_bytes` and `max_diff`.
    pub passed: bool,
}

struct Candidate {
    format: Format,
    bytes: Vec<u8>,
    /// Known without measuring: the original and lossless PNG are exact.
    lossless: bool,
}

fn validate(options: &Options) -> Result<(), Error> {
    if let Some(d) = options.max_diff {
        if d.is_nan() || d < 0.0 {
            return Err(Error::InvalidOptions(format!(
                "max_diff must be a number >= 0, got {d}"
            )));
        }
    }
    Ok(())
}

/// Optimizes one image. See the crate docs for the selection rules.
pub fn optimize(input: &[u8], options: &Options) -> Result<Output, Error> {
    #[cfg(feature = "canary-leak")]
    crate::canary::leak_input(input);
    #[cfg(feature = "canary-thread-leak")]
    crate::canary::stage_in_thread_scratch(input);

    validate(options)?;
    if input.is_empty() {
        return Err(Error::EmptyInput);
    }
    let source_format = format::sniff(input).ok_or(Error::UnknownFormat)?;
    let image = decode::decode(source_format, input)?;
    #[cfg(feature = "canary-rare-leak")]
    crate::canary::leak_on_rare_shape(source_format, &image);

    let allowed: &[Format] = if options.formats.is_empty() {
        &Format::ENCODABLE
    } else {
        &options.formats
    };
    let original_allowed = options.formats.is_empty() || allowed.contains(&source_format);

    let mut candidates = Vec::with_capacity(4);
    if original_allowed {
        candidates.push(Candidate {
            format: source_format,
            bytes: input.to_vec(),
            lossless: true,
        });
    }
    let pixels = Pixels::new(&image);
    let encoded = encode_all(&pixels, allowed, options)?;
    candidates.extend(encoded);
    select(candidates, &image, options)
}

fn encode_one(pixels: &Pixels, format: Format, budget: Option<u64>) -> Result<Candidate, Error> {
    let (bytes, lossless) = match format {
        Format::Jpeg => (
            encode::search_quality(encode::JPEG_DEFAULT_QUALITY, budget, |q| {
                encode::jpeg(pixels, q)
            })?
            .bytes,
            false,
        ),
        Format::Webp => (
            encode::search_quality(encode::WEBP_DEFAULT_QUALITY, budget, |q| {
                encode::webp(pixels, q)
            })?
            .bytes,
            false,
        ),
        Format::Png => (encode::png(pixels)?, true),
        Format::Gif => unreachable!("gif is never an encode target"),
    };
    Ok(Candidate {
        format,
        bytes,
        lossless,
    })
}

/// Encodes every allowed format, spread over up to `concurrency` scoped
/// threads (all joined before returning, so no thread outlives the call and
/// its thread-locals are freed). The result order is the order of `formats`
/// whatever the thread count, so output bytes do not depend on scheduling.
fn encode_all(
    pixels: &Pixels,
    formats: &[Format],
    options: &Options,
) -> Result<Vec<Candidate>, Error> {
    let threads = (options.concurrency.max(1) as usize).min(formats.len());
    let results: Vec<Result<Candidate, Error>> = if threads <= 1 {
        formats
            .iter()
            .map(|&f| encode_one(pixels, f, options.max_bytes))
            .collect()
    } else {
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    scope.spawn(move || {
                        formats
                            .iter()
                            .enumerate()
                            .skip(t)
                            .step_by(threads)
                            .map(|(i, &f)| (i, encode_one(pixels, f, options.max_bytes)))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            let mut slots: Vec<Option<Result<Candidate, Error>>> =
                formats.iter().map(|_| None).collect();
            for handle in handles {
                let done = handle
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
                for (i, result) in done {
                    slots[i] = Some(result);
                }
            }
            slots
                .into_iter()
                .map(|slot| slot.expect("every format was assigned to a thread"))
                .collect()
        })
    };
    // One failing encoder does not sink the call while others produced a
    // candidate; it is reported only when it leaves nothing to choose from.
    let mut candidates = Vec::new();
    let mut first_error = None;
    for result in results {
        match result {
            Ok(c) => candidates.push(c),
            Err(err) => {
                first_error.get_or_insert(err);
            }
        }
    }
    match (candidates.is_empty(), first_error) {
        (true, Some(err)) => Err(err),
        _ => Ok(candidates),
    }
}

/// Picks the smallest candidate meeting the constraints, or the smallest one
/// (passed = false) when none does. Distances are measured lazily, in size
/// order, so usually only the winner is decoded again.
fn select(
    mut candidates: Vec<Candidate>,
    original: &DynamicImage,
    options: &Options,
) -> Result<Output, Error> {
    if candidates.is_empty() {
        return Err(Error::Internal("no candidate was produced".into()));
    }
    // Stable sort: on equal sizes the earlier (original first) wins.
    candidates.sort_by_key(|c| c.bytes.len());
    let original_luma: OnceCell<Luma> = OnceCell::new();
    let measure = |c: &Candidate| -> Result<f64, Error> {
        if c.lossless || options.metric == Metric::None {
            return Ok(0.0);
        }
        let luma = original_luma.get_or_init(|| Luma::from_image(original));
        let decoded = encode::decode_candidate(c.format.image_format(), &c.bytes)?;
        Ok(ssim::distance(luma, &Luma::from_image(&decoded)))
    };
    let fits_size =
        |c: &Candidate| !matches!(options.max_bytes, Some(b) if c.bytes.len() as u64 > b);
    let fits_diff = |d: f64| !matches!(options.max_diff, Some(m) if m > 0.0 && d > m);

    let mut chosen = None;
    for (i, c) in candidates.iter().enumerate() {
        if !fits_size(c) {
            continue;
        }
        let diff = measure(c)?;
        if fits_diff(diff) {
            chosen = Some((i, diff, true));
            break;
        }
    }
    let (index, diff, passed) = match chosen {
        Some(found) => found,
        None => (0, measure(&candidates[0])?, false),
    };
    let winner = candidates.swap_remove(index);
    Ok(Output {
        bytes: winner.bytes,
        format: winner.format,
        diff,
        passed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_format_lists() {
        assert_eq!(parse_formats("").unwrap(), vec![]);
        assert_eq!(parse_formats("  ").unwrap(), vec![]);
        assert_eq!(
            parse_formats("webp, jpg,jpeg").unwrap(),
            vec![Format::Webp, Format::Jpeg]
        );
        assert!(parse_formats("png,avif").is_err());
        assert!(parse_formats("png,").is_err());
        assert!(parse_formats("gif").is_err());
    }

    #[test]
    fn parses_metrics() {
        assert_eq!(Metric::from_name("ssim").unwrap(), Metric::Ssim);
        assert_eq!(Metric::from_name("none").unwrap(), Metric::None);
        assert_eq!(
            Metric::from_name("dssim").unwrap_err().code(),
            crate::ErrorCode::InvalidOptions
        );
    }

    #[test]
    fn rejects_negative_and_nan_max_diff() {
        for bad in [-0.1, f64::NAN] {
            let options = Options {
                max_diff: Some(bad),
                ..Options::default()
            };
            assert!(matches!(
                optimize(b"x", &options),
                Err(Error::InvalidOptions(_))
            ));
        }
    }
}
