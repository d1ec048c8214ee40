//! Zola's image processing: `get_image_metadata` reads an image's size, `resize_image` plans a
//! resized copy and answers at once with its URL and size; the encoding is queued and done in
//! parallel once the outputs are rendered. Results are cached where Zola keeps them,
//! `static/processed_images/`, and are made again only when the source is newer.

use std::collections::{HashMap, HashSet};
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader};
use rayon::prelude::*;

use crate::error::{Diagnostic, Error, Result};
use crate::output::Output;

/// The largest image `resize_image` makes (100 megapixels, 400 MB in memory as RGBA).
const MAX_PIXELS: u64 = 100_000_000;

/// The folder, under `static/` and under the output, that holds processed images.
pub const SUBDIR: &str = "processed_images";

/// A resize operation, as `resize_image`'s `op` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// Exactly `width` × `height`, whatever the aspect ratio.
    Scale(u32, u32),
    /// `width` wide, the height keeping the aspect ratio.
    FitWidth(u32),
    /// `height` high, the width keeping the aspect ratio.
    FitHeight(u32),
    /// Within `width` × `height`, keeping the aspect ratio; never enlarged.
    Fit(u32, u32),
    /// Exactly `width` × `height`: the centre cropped to that ratio, then scaled.
    Fill(u32, u32),
}

impl Op {
    /// The operation `op` with the dimensions it needs.
    pub fn parse(op: &str, width: Option<u32>, height: Option<u32>) -> std::result::Result<Op, String> {
        let both = |make: fn(u32, u32) -> Op| match (width, height) {
            (Some(w), Some(h)) => Ok(make(w, h)),
            _ => Err(format!("op=\"{op}\" needs both `width` and `height`")),
        };
        let op = match op {
            "scale" => both(Op::Scale)?,
            "fit" => both(Op::Fit)?,
            "fill" => both(Op::Fill)?,
            "fit_width" => Op::FitWidth(width.ok_or("op=\"fit_width\" needs a `width`")?),
            "fit_height" => Op::FitHeight(height.ok_or("op=\"fit_height\" needs a `height`")?),
            other => {
                return Err(format!("`{other}` is not a resize operation (scale, fit_width, fit_height, fit or fill)"))
            }
        };
        let zero = match op {
            Op::Scale(w, h) | Op::Fit(w, h) | Op::Fill(w, h) => w == 0 || h == 0,
            Op::FitWidth(w) => w == 0,
            Op::FitHeight(h) => h == 0,
        };
        if zero {
            return Err("`width` and `height` must be at least 1".into());
        }
        Ok(op)
    }

    fn describe(&self) -> String {
        match self {
            Op::Scale(w, h) => format!("scale:{w}x{h}"),
            Op::FitWidth(w) => format!("fit_width:{w}"),
            Op::FitHeight(h) => format!("fit_height:{h}"),
            Op::Fit(w, h) => format!("fit:{w}x{h}"),
            Op::Fill(w, h) => format!("fill:{w}x{h}"),
        }
    }
}

/// An output encoding, as `resize_image`'s `format`, `quality` and `speed` give it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// JPEG at a quality of 1–100.
    Jpeg(u8),
    /// PNG.
    Png,
    /// WebP, lossy at a quality of 0–100, or lossless.
    WebP(Option<u8>),
    /// AVIF at a quality of 1–100 and a speed of 1–10.
    Avif(u8, u8),
}

impl Format {
    /// The format named (`auto` follows the source: JPEG for a lossy one, PNG otherwise), with
    /// Zola's defaults: JPEG 75, WebP lossless, AVIF quality 80 speed 5.
    pub fn parse(
        name: &str,
        lossy_source: bool,
        quality: Option<u8>,
        speed: Option<u8>,
    ) -> std::result::Result<Format, String> {
        if let Some(q) = quality {
            if q == 0 && name != "webp" || q > 100 {
                return Err(format!("`quality` must be within 1–100, not {q}"));
            }
        }
        if let Some(s) = speed {
            if !(1..=10).contains(&s) {
                return Err(format!("`speed` must be within 1–10, not {s}"));
            }
        }
        let name = match name {
            "auto" if lossy_source => "jpg",
            "auto" => "png",
            other => other,
        };
        Ok(match name {
            "jpg" | "jpeg" => Format::Jpeg(quality.unwrap_or(75)),
            "png" => Format::Png,
            "webp" => Format::WebP(quality),
            "avif" => Format::Avif(quality.unwrap_or(80), speed.unwrap_or(5)),
            other => return Err(format!("`{other}` is not an output format (auto, jpg, png, webp or avif)")),
        })
    }

    /// The file extension it is written with.
    pub fn extension(&self) -> &'static str {
        match self {
            Format::Jpeg(_) => "jpg",
            Format::Png => "png",
            Format::WebP(_) => "webp",
            Format::Avif(..) => "avif",
        }
    }

    fn describe(&self) -> String {
        match self {
            Format::Jpeg(q) => format!("jpg:{q}"),
            Format::Png => "png".into(),
            Format::WebP(Some(q)) => format!("webp:{q}"),
            Format::WebP(None) => "webp:lossless".into(),
            Format::Avif(q, s) => format!("avif:{q}:{s}"),
        }
    }
}

/// What to do to the source's pixels: crop (x, y, width, height), then scale to a size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Plan {
    /// The part kept, if not all.
    pub crop: Option<(u32, u32, u32, u32)>,
    /// The size it is scaled to, if scaled.
    pub size: Option<(u32, u32)>,
}

impl Plan {
    /// The plan for `op` on an image of `width` × `height` (sizes round down, as Zola's do).
    pub fn new(op: Op, (width, height): (u32, u32)) -> Plan {
        let (w64, h64) = (u64::from(width.max(1)), u64::from(height.max(1)));
        let scaled = |w: u32, h: u32| Plan { crop: None, size: Some((w.max(1), h.max(1))) };
        match op {
            Op::Scale(w, h) => scaled(w, h),
            Op::FitWidth(w) => scaled(w, (h64 * u64::from(w) / w64) as u32),
            Op::FitHeight(h) => scaled((w64 * u64::from(h) / h64) as u32, h),
            Op::Fit(w, h) if width <= w && height <= h => Plan::default(),
            Op::Fit(w, h) if w64 * u64::from(h) > h64 * u64::from(w) => Plan::new(Op::FitWidth(w), (width, height)),
            Op::Fit(_, h) => Plan::new(Op::FitHeight(h), (width, height)),
            Op::Fill(w, h) => {
                let (fw, fh) = (width as f32 / w as f32, height as f32 / h as f32);
                // Ratios this close are scaled without a crop: a sliver is not worth losing.
                if (fw - fh).abs() <= 0.1 {
                    return scaled(w, h);
                }
                let crop = if fw < fh {
                    let ch = ((fw * h as f32).round() as u32).min(height);
                    (0, (height - ch) / 2, width, ch)
                } else {
                    let cw = ((fh * w as f32).round() as u32).min(width);
                    ((width - cw) / 2, 0, cw, height)
                };
                Plan { crop: Some(crop), size: Some((w, h)) }
            }
        }
    }

    /// The size of the result for a source of `size`.
    pub fn result_size(&self, size: (u32, u32)) -> (u32, u32) {
        self.size.or(self.crop.map(|(_, _, w, h)| (w, h))).unwrap_or(size)
    }
}

/// An image's size and kind, as `get_image_metadata` tells them.
#[derive(Debug, Clone, PartialEq)]
pub struct Meta {
    /// Width in pixels (as displayed, after any EXIF rotation).
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Zola's short name of the format: `jpg`, `png`, `webp`, `gif`, `svg`, …
    pub format: &'static str,
    /// The media type.
    pub mime: &'static str,
}

impl Meta {
    /// Whether re-encoding it should stay lossy (JPEG and lossy WebP become JPEG under `auto`).
    pub fn lossy(&self) -> bool {
        matches!(self.format, "jpg" | "webp" | "avif")
    }

    /// As templates see it.
    pub fn to_value(&self) -> serde_json::Value {
        serde_json::json!({ "width": self.width, "height": self.height, "format": self.format, "mime": self.mime })
    }
}

/// What `resize_image` asks for.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The operation and its size.
    pub op: Op,
    /// The format's name (`auto`, `jpg`, `png`, `webp`, `avif`).
    pub format: &'a str,
    /// The quality, when given.
    pub quality: Option<u8>,
    /// The AVIF speed, when given.
    pub speed: Option<u8>,
}

/// What `resize_image` answers.
#[derive(Debug, Clone, PartialEq)]
pub struct Resized {
    /// The processed image's URL.
    pub url: String,
    /// Where it is kept, relative to the site root (`static/processed_images/…`).
    pub static_path: String,
    /// Its width.
    pub width: u32,
    /// Its height.
    pub height: u32,
    /// The source's width.
    pub orig_width: u32,
    /// The source's height.
    pub orig_height: u32,
}

impl Resized {
    /// As templates see it.
    pub fn to_value(&self) -> serde_json::Value {
        serde_json::json!({
            "url": self.url, "static_path": self.static_path, "width": self.width, "height": self.height,
            "orig_width": self.orig_width, "orig_height": self.orig_height,
        })
    }
}

/// Reads an image's size and format from its header (and its EXIF orientation).
pub fn read_meta(path: &Path) -> std::result::Result<Meta, String> {
    let ext = path.extension().map(|e| e.to_string_lossy().to_lowercase()).unwrap_or_default();
    if ext == "svg" {
        let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
        let (width, height) = svg_size(&text).ok_or("an SVG without width and height or a viewBox")?;
        return Ok(Meta { width, height, format: "svg", mime: "text/svg+xml" });
    }
    let reader =
        ImageReader::open(path).map_err(|e| e.to_string())?.with_guessed_format().map_err(|e| e.to_string())?;
    let format = reader.format().ok_or("not an image this engine can read (JPEG, PNG, WebP, GIF or SVG)")?;
    let mut decoder = reader.into_decoder().map_err(|e| e.to_string())?;
    let (mut width, mut height) = decoder.dimensions();
    if let Ok(o) = decoder.orientation() {
        use image::metadata::Orientation::*;
        if matches!(o, Rotate90 | Rotate270 | Rotate90FlipH | Rotate270FlipH) {
            std::mem::swap(&mut width, &mut height);
        }
    }
    let (format, mime) = match format {
        ImageFormat::Jpeg => ("jpg", "image/jpeg"),
        ImageFormat::Png => ("png", "image/png"),
        ImageFormat::WebP => ("webp", "image/webp"),
        ImageFormat::Gif => ("gif", "image/gif"),
        ImageFormat::Avif => ("avif", "image/avif"),
        other => return Err(format!("{other:?} images are not supported")),
    };
    Ok(Meta { width, height, format, mime })
}

/// An SVG's size from its root element's `width` and `height`, else its `viewBox`.
fn svg_size(text: &str) -> Option<(u32, u32)> {
    let start = text.find("<svg")?;
    let tag = &text[start..start + text[start..].find('>')?];
    let attr = |name: &str| -> Option<&str> {
        let at = tag.match_indices(name).find(|(i, _)| tag[..*i].ends_with(char::is_whitespace))?.0;
        let rest = tag[at + name.len()..].trim_start().strip_prefix('=')?.trim_start();
        let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
        rest[1..].split(quote).next()
    };
    let number = |s: &str| s.trim().trim_end_matches("px").parse::<f64>().ok().filter(|n| *n > 0.0);
    if let (Some(w), Some(h)) = (attr("width").and_then(number), attr("height").and_then(number)) {
        return Some((w.round() as u32, h.round() as u32));
    }
    let vb: Vec<f64> =
        attr("viewBox")?.split([' ', ',']).filter(|s| !s.is_empty()).filter_map(|s| s.parse().ok()).collect();
    (vb.len() == 4 && vb[2] > 0.0 && vb[3] > 0.0).then(|| (vb[2].round() as u32, vb[3].round() as u32))
}

struct Job {
    input: PathBuf,
    plan: Plan,
    format: Format,
}

#[derive(Default)]
struct State {
    meta: HashMap<PathBuf, (Option<SystemTime>, Meta)>,
    /// Queued work by output file name.
    jobs: HashMap<String, Job>,
    /// Output names made (or found fresh) and copied since the last full build.
    done: HashSet<String>,
}

/// Image work asked for by templates, done after rendering; shared by the template functions.
#[derive(Default)]
pub struct Images {
    state: Mutex<State>,
}

impl Images {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// An image's metadata, read once per version of the file.
    pub fn meta(&self, path: &Path) -> std::result::Result<Meta, String> {
        let mtime = std::fs::metadata(path).and_then(|m| m.modified()).ok();
        if let Some((t, m)) = self.state().meta.get(path) {
            if *t == mtime {
                return Ok(m.clone());
            }
        }
        let meta = read_meta(path)?;
        self.state().meta.insert(path.to_path_buf(), (mtime, meta.clone()));
        Ok(meta)
    }

    /// Queues a resize of `input` (named `src` by the template) and says what it will give.
    pub fn enqueue(
        &self,
        src: &str,
        input: &Path,
        req: &Request,
        base_url: &str,
    ) -> std::result::Result<Resized, String> {
        let meta = self.meta(input)?;
        if meta.format == "svg" {
            return Err("an SVG cannot be resized (it scales by itself)".into());
        }
        let format = Format::parse(req.format, meta.lossy(), req.quality, req.speed)?;
        let plan = Plan::new(req.op, (meta.width, meta.height));
        let (width, height) = plan.result_size((meta.width, meta.height));
        // A typo of a zero too many must be an error, not the build's memory spent on one image.
        if u64::from(width) * u64::from(height) > MAX_PIXELS {
            return Err(format!(
                "{width}×{height} is more than {} megapixels: check width and height",
                MAX_PIXELS / 1_000_000
            ));
        }
        let name = output_name(src, input, req.op, format);
        self.state().jobs.insert(name.clone(), Job { input: input.to_path_buf(), plan, format });
        Ok(Resized {
            url: format!("{}/{SUBDIR}/{name}", base_url.trim_end_matches('/')),
            static_path: format!("static/{SUBDIR}/{name}"),
            width,
            height,
            orig_width: meta.width,
            orig_height: meta.height,
        })
    }

    /// Makes every queued image that is missing or older than its source, in parallel, into
    /// `root/static/processed_images/`. With an `output`, those not yet copied there are copied
    /// (an incremental rebuild; a full build copies `static/` as a whole afterwards). Returns the
    /// output-relative names handled.
    pub fn process(&self, root: &Path, output: Option<&Output>) -> Result<Vec<String>> {
        let dir = root.join("static").join(SUBDIR);
        let todo: Vec<(String, PathBuf, Plan, Format)> = {
            let st = self.state();
            st.jobs
                .iter()
                .filter(|(name, _)| output.is_none() || !st.done.contains(*name))
                .map(|(name, j)| (name.clone(), j.input.clone(), j.plan, j.format))
                .collect()
        };
        if todo.is_empty() {
            return Ok(Vec::new());
        }
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let results: Vec<std::result::Result<String, Diagnostic>> = todo
            .par_iter()
            .map(|(name, input, plan, format)| {
                let dest = dir.join(name);
                if is_stale(input, &dest) {
                    let bytes = encode(input, *plan, *format)
                        .map_err(|e| Diagnostic::file(input, format!("cannot make {SUBDIR}/{name}: {e}")))?;
                    // Written aside and renamed: an interrupted build leaves no half image
                    // that looks fresh.
                    let part = dir.join(format!(".{name}.part"));
                    std::fs::write(&part, &bytes)
                        .and_then(|_| std::fs::rename(&part, &dest))
                        .map_err(|e| Diagnostic::file(&dest, format!("cannot write: {e}")))?;
                }
                let rel = format!("{SUBDIR}/{name}");
                if let Some(out) = output {
                    out.copy(&dest, &rel).map_err(|e| Diagnostic::file(&dest, e.to_string()))?;
                }
                Ok(rel)
            })
            .collect();
        let mut done = Vec::new();
        let mut diagnostics = Vec::new();
        for r in results {
            match r {
                Ok(rel) => done.push(rel),
                Err(d) => diagnostics.push(d),
            }
        }
        let mut st = self.state();
        st.done.extend(done.iter().map(|r| r.trim_start_matches(&format!("{SUBDIR}/")).to_string()));
        if diagnostics.is_empty() {
            Ok(done)
        } else {
            Err(Error::Site(diagnostics))
        }
    }

    /// Forgets the queue before a full build (which asks for every image again).
    pub fn reset(&self) {
        let mut st = self.state();
        st.jobs.clear();
        st.done.clear();
    }

    /// Makes the next [`Images::process`] look at every queued image again (sources changed).
    pub fn recheck(&self) {
        self.state().done.clear();
    }

    /// Removes cached images that no output asked for in the last full build, as Zola does
    /// (the folder is the engine's own).
    pub fn prune(&self, root: &Path) -> usize {
        let dir = root.join("static").join(SUBDIR);
        let Ok(entries) = std::fs::read_dir(&dir) else { return 0 };
        let st = self.state();
        let mut removed = 0;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().to_string();
            if entry.path().is_file() && !st.jobs.contains_key(&name) && std::fs::remove_file(entry.path()).is_ok() {
                removed += 1;
            }
        }
        removed
    }

    /// Whether any image was asked for.
    pub fn is_empty(&self) -> bool {
        self.state().jobs.is_empty()
    }
}

/// `STEM.HASH.EXT`, the hash (16 hex digits of SHA-256) over the path as the template gave it
/// and the operation: the same call finds the same file, build after build.
fn output_name(src: &str, input: &Path, op: Op, format: Format) -> String {
    use sha2::Digest as _;
    let key = format!("{}\n{}\n{}", src.trim_start_matches('/'), op.describe(), format.describe());
    let sum = sha2::Sha256::digest(key.as_bytes());
    let hex: String = sum.iter().take(8).map(|b| format!("{b:02x}")).collect();
    let stem = input.file_stem().map(|s| s.to_string_lossy().to_string()).unwrap_or_else(|| "image".into());
    format!("{stem}.{hex}.{}", format.extension())
}

fn is_stale(input: &Path, output: &Path) -> bool {
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    match (modified(input), modified(output)) {
        (Some(i), Some(o)) => i > o,
        _ => true,
    }
}

/// Decodes, turns upright, crops, scales and encodes one image.
fn encode(input: &Path, plan: Plan, format: Format) -> std::result::Result<Vec<u8>, String> {
    let reader =
        ImageReader::open(input).map_err(|e| e.to_string())?.with_guessed_format().map_err(|e| e.to_string())?;
    let mut decoder = reader.into_decoder().map_err(|e| e.to_string())?;
    let orientation = decoder.orientation().ok();
    let mut img = DynamicImage::from_decoder(decoder).map_err(|e| e.to_string())?;
    if let Some(o) = orientation {
        img.apply_orientation(o);
    }
    if let Some((x, y, w, h)) = plan.crop {
        img = img.crop_imm(x, y, w, h);
    }
    if let Some((w, h)) = plan.size {
        img = img.resize_exact(w, h, image::imageops::FilterType::Lanczos3);
    }
    let mut out = Vec::new();
    match format {
        Format::Png => img.write_to(&mut Cursor::new(&mut out), ImageFormat::Png).map_err(|e| e.to_string())?,
        Format::Jpeg(q) => {
            // JPEG has no alpha: flatten onto the pixels' own colour, as Zola's encoder does.
            let rgb = DynamicImage::ImageRgb8(img.to_rgb8());
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, q)
                .encode_image(&rgb)
                .map_err(|e| e.to_string())?
        }
        Format::WebP(q) => {
            let memory = if img.color().has_alpha() {
                let rgba = img.to_rgba8();
                let enc = webp::Encoder::from_rgba(rgba.as_raw(), rgba.width(), rgba.height());
                q.map(|q| enc.encode(f32::from(q))).unwrap_or_else(|| enc.encode_lossless())
            } else {
                let rgb = img.to_rgb8();
                let enc = webp::Encoder::from_rgb(rgb.as_raw(), rgb.width(), rgb.height());
                q.map(|q| enc.encode(f32::from(q))).unwrap_or_else(|| enc.encode_lossless())
            };
            out.extend_from_slice(&memory);
        }
        Format::Avif(q, speed) => {
            let rgba = DynamicImage::ImageRgba8(img.to_rgba8());
            let enc = image::codecs::avif::AvifEncoder::new_with_speed_quality(&mut out, speed, q);
            rgba.write_with_encoder(enc).map_err(|e| e.to_string())?;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_match_zolas_arithmetic() {
        // The sizes Zola 0.22.1 answered for the same calls (a 1200×800 JPEG, a 300×380 PNG).
        assert_eq!(Plan::new(Op::Fill(400, 300), (1200, 800)).result_size((1200, 800)), (400, 300));
        assert_eq!(Plan::new(Op::FitWidth(400), (1200, 800)).size, Some((400, 266)));
        assert_eq!(Plan::new(Op::Fit(150, 150), (300, 380)).size, Some((118, 150)));
        assert_eq!(Plan::new(Op::Fit(5000, 5000), (300, 380)), Plan::default());
        assert_eq!(Plan::new(Op::Scale(100, 100), (300, 380)).size, Some((100, 100)));
        let fill = Plan::new(Op::Fill(400, 300), (1200, 800));
        assert_eq!(fill.crop, Some((66, 0, 1067, 800)));
        assert_eq!(Plan::new(Op::Fill(100, 100), (300, 380)).crop, Some((0, 40, 300, 300)));
    }

    #[test]
    fn bad_arguments_say_what_is_wrong() {
        assert!(Op::parse("fill", Some(10), None).unwrap_err().contains("both"));
        assert!(Op::parse("zoom", Some(10), None).unwrap_err().contains("not a resize operation"));
        assert!(Op::parse("fit_width", Some(0), None).is_err());
        assert!(Format::parse("gif", true, None, None).unwrap_err().contains("not an output format"));
        assert!(Format::parse("jpg", true, Some(101), None).is_err());
        assert!(Format::parse("avif", true, None, Some(11)).is_err());
        assert_eq!(Format::parse("auto", true, None, None), Ok(Format::Jpeg(75)));
        assert_eq!(Format::parse("auto", false, None, None), Ok(Format::Png));
        assert_eq!(Format::parse("webp", true, None, None), Ok(Format::WebP(None)));
        assert_eq!(Format::parse("avif", true, None, None), Ok(Format::Avif(80, 5)));
    }

    #[test]
    fn svg_sizes() {
        assert_eq!(svg_size(r#"<?xml?><svg xmlns="x" width="120" height="80px">"#), Some((120, 80)));
        assert_eq!(svg_size(r#"<svg viewBox="0 0 64 48" stroke-width="2">"#), Some((64, 48)));
        assert_eq!(svg_size(r#"<svg width="100%" viewBox="0,0,10,20">"#), Some((10, 20)));
        assert_eq!(svg_size("<svg>"), None);
    }
}
