//! Image–caption pairs for pretraining: the world's `captions.csv` (several rows per image) or
//! any CSV with `image` and `caption` columns (image paths relative to the CSV's directory).
//! Images are decoded, resized and centre-cropped once and kept in memory as RGB8; captions
//! are tokenized once.
use crate::{Result, VladaptError};
use rand::Rng;
use rayon::prelude::*;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use vladapt_data::{BatchPlan, EpochSeed};
use vladapt_image::{ImageLimits, Preprocess, RgbImage, TrainAugment};
use vladapt_tokenizer::ClipTokenizer;

/// Caption file name inside a world directory.
pub const CAPTIONS_CSV: &str = "captions.csv";

/// Images with their tokenized captions.
pub struct PairData {
    /// The CSV the pairs came from.
    pub csv: PathBuf,
    /// Image paths, in first-appearance order.
    pub paths: Vec<PathBuf>,
    /// Resized + centre-cropped images (`image_size`²).
    pub images: Vec<RgbImage>,
    /// Token rows of every caption of each image (`context_length` ids each).
    pub captions: Vec<Vec<Vec<u32>>>,
    /// Preprocessing (mean/std, size).
    pub preprocess: Preprocess,
}

/// Split one CSV line into fields (RFC 4180 quoting; quoted fields do not span lines).
fn split_csv_line(line: &str) -> std::result::Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    let mut at_start = true;
    while let Some(c) = chars.next() {
        if quoted {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    cur.push('"');
                    chars.next();
                } else {
                    quoted = false;
                }
            } else {
                cur.push(c);
            }
        } else if c == '"' && at_start {
            quoted = true;
            at_start = false;
        } else if c == ',' {
            out.push(std::mem::take(&mut cur));
            at_start = true;
        } else {
            cur.push(c);
            at_start = false;
        }
    }
    if quoted {
        return Err("unterminated quoted field".into());
    }
    out.push(cur);
    Ok(out)
}

/// Read `(image path, caption)` rows; paths are resolved against the CSV's directory.
pub fn read_caption_csv(csv: &Path) -> Result<Vec<(PathBuf, String)>> {
    let text = std::fs::read_to_string(csv).map_err(|e| VladaptError::io(csv, e))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let mut lines = text.lines().enumerate();
    let header = loop {
        match lines.next() {
            Some((_, l)) if l.trim().is_empty() => continue,
            Some((_, l)) => break l,
            None => return Err(VladaptError::config(csv, "empty CSV (no header)")),
        }
    };
    let cols = split_csv_line(header).map_err(|e| VladaptError::config(csv, e))?;
    let find = |name: &str| {
        cols.iter()
            .position(|c| c.trim().eq_ignore_ascii_case(name))
    };
    let (Some(ic), Some(cc)) = (find("image"), find("caption")) else {
        return Err(VladaptError::config(
            csv,
            format!("header must have `image` and `caption` columns, got {cols:?}"),
        ));
    };
    let root = csv.parent().unwrap_or(Path::new("."));
    let mut rows = Vec::new();
    for (i, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        let f = split_csv_line(line)
            .map_err(|e| VladaptError::config(csv, format!("line {}: {e}", i + 1)))?;
        let (Some(img), Some(cap)) = (f.get(ic), f.get(cc)) else {
            return Err(VladaptError::config(
                csv,
                format!(
                    "line {}: expected {} fields, got {}",
                    i + 1,
                    cols.len(),
                    f.len()
                ),
            ));
        };
        if img.trim().is_empty() || cap.trim().is_empty() {
            return Err(VladaptError::config(
                csv,
                format!("line {}: empty image or caption", i + 1),
            ));
        }
        rows.push((root.join(img.trim()), cap.trim().to_string()));
    }
    if rows.is_empty() {
        return Err(VladaptError::config(csv, "no image–caption rows"));
    }
    Ok(rows)
}

impl PairData {
    /// Load from a world directory (its `captions.csv`) or a CSV file, decoding every image.
    pub fn load(
        source: &Path,
        image_size: usize,
        context_length: usize,
        tokenizer: &ClipTokenizer,
    ) -> Result<Self> {
        let csv = if source.is_dir() {
            source.join(CAPTIONS_CSV)
        } else {
            source.to_path_buf()
        };
        if !csv.is_file() {
            return Err(VladaptError::argument(
                csv.display().to_string(),
                format!(
                    "no such caption CSV (give a world directory with {CAPTIONS_CSV} or a CSV \
                     file with `image,caption` columns)"
                ),
            ));
        }
        let rows = read_caption_csv(&csv)?;
        let mut index: HashMap<PathBuf, usize> = HashMap::new();
        let mut paths: Vec<PathBuf> = Vec::new();
        let mut texts: Vec<Vec<String>> = Vec::new();
        for (p, c) in rows {
            let i = *index.entry(p.clone()).or_insert_with(|| {
                paths.push(p);
                texts.push(Vec::new());
                paths.len() - 1
            });
            texts[i].push(c);
        }
        let preprocess = Preprocess::clip(image_size as u32);
        let limits = ImageLimits::default();
        let images: Vec<RgbImage> = paths
            .par_iter()
            .map(|p| {
                vladapt_image::load_rgb(p, &limits)
                    .and_then(|img| {
                        preprocess.resize_and_crop(&img).map_err(|e| {
                            vladapt_image::ImageError::Decode {
                                name: p.display().to_string(),
                                reason: e.to_string(),
                            }
                        })
                    })
                    .map_err(VladaptError::from)
            })
            .collect::<Result<_>>()?;
        let captions = texts
            .iter()
            .map(|caps| {
                caps.iter()
                    .map(|c| tokenizer.tokenize(c, context_length))
                    .collect()
            })
            .collect();
        Ok(Self {
            csv,
            paths,
            images,
            captions,
            preprocess,
        })
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.images.len()
    }

    /// Whether there are no images.
    pub fn is_empty(&self) -> bool {
        self.images.is_empty()
    }

    /// Total caption rows.
    pub fn num_captions(&self) -> usize {
        self.captions.iter().map(|c| c.len()).sum()
    }

    /// The epoch's plan: a permutation of the images, each with one sampled caption index.
    /// Depends only on `(seed, epoch)`, so a resumed run replays the same epochs.
    pub fn epoch_plan(&self, seed: u64, epoch: usize) -> Vec<(usize, usize)> {
        let plan = Self::batch_plan(seed, 1);
        let mut rng = plan.epoch_rng(epoch as u64);
        let order = plan.order_with(self.len(), &mut rng);
        order
            .into_iter()
            .map(|i| (i, rng.random_range(0..self.captions[i].len())))
            .collect()
    }

    /// Pretraining's [`BatchPlan`] with batches of `batch`: shuffled, `drop_last`, stream
    /// `epoch + 1` of `seed ^ "PRETRAIN"`; the captions are drawn from the same stream after
    /// the permutation ([`Self::epoch_plan`]).
    pub fn batch_plan(seed: u64, batch: usize) -> BatchPlan {
        BatchPlan {
            seed,
            seeding: EpochSeed::Stream {
                salt: 0x5052_4554_5241_494E,
                offset: 1,
            },
            batch,
            shuffle: true,
            drop_last: true,
        }
    }

    /// Normalised CHW pixels of images `idx` (flattened `[B, 3, S, S]`), optionally augmented
    /// with a per-(seed, epoch, image) stream.
    pub fn pixels(&self, idx: &[usize], augment: Option<(u64, usize)>) -> Vec<f32> {
        let pp = &self.preprocess;
        let size = pp.crop.0;
        let chw: Vec<Vec<f32>> = idx
            .par_iter()
            .map(|&i| match augment {
                None => vladapt_image::to_chw_normalised(&self.images[i], &pp.mean, &pp.std),
                Some((seed, epoch)) => {
                    let aug = TrainAugment {
                        scale: (0.7, 1.0),
                        flip_p: 0.0,
                        mean: pp.mean,
                        std: pp.std,
                        ..TrainAugment::clip(size)
                    };
                    let mut rng = vladapt_image::augment_rng(seed, epoch as u64, i as u64);
                    aug.apply(&self.images[i], &mut rng)
                }
            })
            .collect();
        chw.into_iter().flatten().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quoting() {
        assert_eq!(
            split_csv_line(r#"a.png,"x, ""y"" z""#).unwrap(),
            vec!["a.png".to_string(), "x, \"y\" z".to_string()]
        );
        assert!(split_csv_line(r#"a,"b"#).is_err());
    }
}
