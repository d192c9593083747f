//! The perceptual distance of the `ssim` metric: 1 - SSIM of the luma planes.
//!
//! SSIM is computed over non-overlapping 8x8 windows (the classic
//! Wang et al. constants for 8-bit data) and averaged. Large images are first
//! box-downscaled so the longer side is at most [`MAX_SIDE`] pixels: the metric
//! then costs the same for a 4 MB photo as for a thumbnail, and downscaling
//! both images the same way keeps the comparison fair.

use image::DynamicImage;

/// Longest side, in pixels, of the luma planes that are compared.
pub const MAX_SIDE: u32 = 256;
const WINDOW: usize = 8;
const C1: f64 = (0.01 * 255.0) * (0.01 * 255.0);
const C2: f64 = (0.03 * 255.0) * (0.03 * 255.0);

/// A luma plane, possibly downscaled, ready to be compared.
#[derive(Debug, Clone)]
pub struct Luma {
    width: usize,
    height: usize,
    pixels: Vec<f32>,
}

impl Luma {
    /// BT.601 luma of `img`, box-downscaled by an integer factor so that the
    /// longer side is at most [`MAX_SIDE`]. Transparent pixels are composited
    /// over white first, the way a viewer would show them.
    pub fn from_image(img: &DynamicImage) -> Luma {
        // Read RGB(A)8 in place (what our decoders and candidates produce);
        // convert other layouts once. Avoids a full RGBA copy of big images.
        let (w, h) = (img.width() as usize, img.height() as usize);
        match img {
            DynamicImage::ImageRgb8(rgb) => Luma::from_pixels(w, h, rgb.as_raw(), 3),
            DynamicImage::ImageRgba8(rgba) => Luma::from_pixels(w, h, rgba.as_raw(), 4),
            other => Luma::from_pixels(w, h, other.to_rgba8().as_raw(), 4),
        }
    }

    fn from_pixels(w: usize, h: usize, data: &[u8], channels: usize) -> Luma {
        let factor = (w.max(h)).div_ceil(MAX_SIDE as usize).max(1);
        let (out_w, out_h) = (w.div_ceil(factor), h.div_ceil(factor));
        let mut sums = vec![0f32; out_w * out_h];
        let mut counts = vec![0u32; out_w * out_h];
        for (i, p) in data.chunks_exact(channels).enumerate() {
            let (x, y) = (i % w, i / w);
            let [r, g, b] = [p[0], p[1], p[2]].map(f32::from);
            let alpha = if channels == 4 {
                f32::from(p[3]) / 255.0
            } else {
                1.0
            };
            let luma = 0.299 * r + 0.587 * g + 0.114 * b;
            let over_white = luma * alpha + 255.0 * (1.0 - alpha);
            let cell = (y / factor) * out_w + x / factor;
            sums[cell] += over_white;
            counts[cell] += 1;
        }
        let pixels = sums
            .iter()
            .zip(&counts)
            .map(|(s, &c)| s / c as f32)
            .collect();
        Luma {
            width: out_w,
            height: out_h,
            pixels,
        }
    }
}

/// Mean SSIM of two planes of equal size, in [-1, 1] (1 = identical).
/// Images smaller than one window are compared as one window.
pub fn ssim(a: &Luma, b: &Luma) -> f64 {
    assert_eq!(
        (a.width, a.height),
        (b.width, b.height),
        "ssim compares planes of equal size"
    );
    let win_w = WINDOW.min(a.width);
    let win_h = WINDOW.min(a.height);
    let mut total = 0.0;
    let mut windows = 0usize;
    let mut y0 = 0;
    while y0 + win_h <= a.height {
        let mut x0 = 0;
        while x0 + win_w <= a.width {
            total += window_ssim(a, b, x0, y0, win_w, win_h);
            windows += 1;
            x0 += win_w;
        }
        y0 += win_h;
    }
    total / windows as f64
}

fn window_ssim(a: &Luma, b: &Luma, x0: usize, y0: usize, w: usize, h: usize) -> f64 {
    let n = (w * h) as f64;
    let (mut sa, mut sb, mut saa, mut sbb, mut sab) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for y in y0..y0 + h {
        let row = y * a.width;
        for x in x0..x0 + w {
            let pa = f64::from(a.pixels[row + x]);
            let pb = f64::from(b.pixels[row + x]);
            sa += pa;
            sb += pb;
            saa += pa * pa;
            sbb += pb * pb;
            sab += pa * pb;
        }
    }
    let (ma, mb) = (sa / n, sb / n);
    let va = (saa / n - ma * ma).max(0.0);
    let vb = (sbb / n - mb * mb).max(0.0);
    let cov = sab / n - ma * mb;
    ((2.0 * ma * mb + C1) * (2.0 * cov + C2)) / ((ma * ma + mb * mb + C1) * (va + vb + C2))
}

/// The distance the `ssim` metric reports: 1 - SSIM, never below 0.
pub fn distance(a: &Luma, b: &Luma) -> f64 {
    (1.0 - ssim(a, b)).max(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gradient(w: u32, h: u32, noise: u8) -> DynamicImage {
        DynamicImage::ImageRgb8(image::RgbImage::from_fn(w, h, |x, y| {
            let n = if (x * 31 + y * 17) % 5 == 0 { noise } else { 0 };
            image::Rgb([(x * 4) as u8 ^ n, (y * 4) as u8, ((x + y) * 2) as u8])
        }))
    }

    #[test]
    fn identical_images_have_zero_distance() {
        let a = Luma::from_image(&gradient(40, 30, 0));
        assert!(distance(&a, &a.clone()) < 1e-12);
    }

    #[test]
    fn distance_grows_with_distortion() {
        let a = Luma::from_image(&gradient(64, 64, 0));
        let small = distance(&a, &Luma::from_image(&gradient(64, 64, 8)));
        let large = distance(&a, &Luma::from_image(&gradient(64, 64, 128)));
        assert!(small > 0.0, "{small}");
        assert!(large > small, "{large} <= {small}");
    }

    #[test]
    fn rgb_and_rgba_layouts_agree() {
        let rgb = gradient(20, 12, 40);
        let rgba = DynamicImage::ImageRgba8(rgb.to_rgba8());
        let (a, b) = (Luma::from_image(&rgb), Luma::from_image(&rgba));
        assert_eq!(a.pixels, b.pixels);
        // Other layouts are converted: a gray image as RGB and as Luma16.
        let gray = DynamicImage::ImageRgb8(image::RgbImage::from_fn(9, 9, |x, y| {
            image::Rgb([(x * 20 + y) as u8; 3])
        }));
        let gray16 = DynamicImage::ImageLuma16(gray.to_luma16());
        let (g8, g16) = (Luma::from_image(&gray), Luma::from_image(&gray16));
        assert!(distance(&g8, &g16) < 1e-6);
    }

    #[test]
    fn large_images_are_downscaled_and_tiny_ones_still_compare() {
        let big = Luma::from_image(&gradient(1000, 300, 0));
        assert!(big.width <= MAX_SIDE as usize && big.height <= MAX_SIDE as usize);
        let tiny = Luma::from_image(&gradient(3, 2, 0));
        assert_eq!(distance(&tiny, &tiny.clone()), 0.0);
    }
}
