//! File-writing helpers shared by the pretraining and task writers.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::{ImageEncoder, RgbImage};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::captions::{describe, ObjectFacts};
use crate::error::WorldError;
use crate::records::{ImageRecord, ObjectRecord};
use crate::render::render_scene;
use crate::scene::Scene;

/// Creates `path` and its parents.
pub(crate) fn create_dir(path: &Path) -> Result<(), WorldError> {
    fs::create_dir_all(path).map_err(|source| WorldError::CreateDir {
        path: path.to_path_buf(),
        source,
    })
}

/// Writes `bytes` to `path`.
pub(crate) fn write_file(path: &Path, bytes: &[u8]) -> Result<(), WorldError> {
    fs::File::create(path)
        .and_then(|mut f| f.write_all(bytes))
        .map_err(|source| WorldError::Write {
            path: path.to_path_buf(),
            source,
        })
}

/// Encodes `img` as a fast-compressed PNG at `path`.
pub(crate) fn write_png(path: &Path, img: &RgbImage) -> Result<(), WorldError> {
    let mut bytes = Vec::with_capacity(img.as_raw().len() / 2);
    PngEncoder::new_with_quality(&mut bytes, CompressionType::Fast, FilterType::Sub)
        .write_image(
            img.as_raw(),
            img.width(),
            img.height(),
            image::ExtendedColorType::Rgb8,
        )
        .map_err(|source| WorldError::Png {
            path: path.to_path_buf(),
            source,
        })?;
    write_file(path, &bytes)
}

/// Serialises `value` as pretty JSON into `path`.
pub(crate) fn write_json<T: serde::Serialize>(path: &Path, value: &T) -> Result<(), WorldError> {
    let mut text = serde_json::to_string_pretty(value).map_err(|source| WorldError::Json {
        what: path.display().to_string(),
        source,
    })?;
    text.push('\n');
    write_file(path, text.as_bytes())
}

/// Per-image random generator: one ChaCha8 stream per image so that the result does not depend
/// on thread scheduling or on how many images are generated.
pub(crate) fn image_rng(seed: u64, domain: u64, stream: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ domain);
    rng.set_stream(stream);
    rng
}

/// Renders `scene`, writes it to `out/rel`, and returns its annotation record.
pub(crate) fn render_and_write(
    out: &Path,
    rel: &str,
    scene: &Scene,
    rng: &mut ChaCha8Rng,
) -> Result<ImageRecord, WorldError> {
    let rendered = render_scene(scene);
    let path: PathBuf = out.join(rel);
    write_png(&path, &rendered.image)?;
    let facts: Vec<ObjectFacts> = scene
        .objects
        .iter()
        .zip(&rendered.boxes)
        .map(|(o, b)| ObjectFacts {
            shape: o.shape,
            colour: o.colour,
            size: o.size,
            bbox: *b,
        })
        .collect();
    let lang = describe(&facts, scene.background.caption_word(), rng);
    let objects = scene
        .objects
        .iter()
        .zip(&rendered.boxes)
        .zip(lang.referring)
        .map(|((o, b), referring)| ObjectRecord {
            shape: o.shape,
            colour: o.colour,
            size: o.size,
            rgb: o.rgb,
            bbox: *b,
            referring,
        })
        .collect();
    Ok(ImageRecord {
        image: rel.to_string(),
        width: scene.size,
        height: scene.size,
        style: scene.style,
        background: scene.background.kind,
        objects,
        captions: lang.captions,
        split: None,
        label: None,
        classname: None,
    })
}

/// Writes `records` as JSON lines.
pub(crate) fn write_jsonl(path: &Path, records: &[ImageRecord]) -> Result<(), WorldError> {
    let mut text = String::new();
    for r in records {
        let line = serde_json::to_string(r).map_err(|source| WorldError::Json {
            what: format!("{} record for {}", path.display(), r.image),
            source,
        })?;
        text.push_str(&line);
        text.push('\n');
    }
    write_file(path, text.as_bytes())
}

/// Quotes a CSV field per RFC 4180 when it contains a comma, quote or line break.
pub(crate) fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}
