//! Fashion-MNIST from the Debian package `dataset-fashion-mnist` (IDX files, official 60k/10k split).
use super::Package;
use super::{folder_name, write_grey_pngs, Ctx, Prepared};
use crate::error::DataError;
use crate::idx::{read_idx_images, read_idx_labels};
use crate::sources::common::{carve_val, DEFAULT_SPLIT_SEED};
use crate::types::Split;

/// Class names in label order (Zalando's list, lower-cased for prompting).
pub const CLASSNAMES: [&str; 10] = [
    "t-shirt or top",
    "trouser",
    "pullover",
    "dress",
    "coat",
    "sandal",
    "shirt",
    "sneaker",
    "bag",
    "ankle boot",
];

const IDX_DIR: &str = "usr/share/datasets/fashion-mnist";

pub(crate) fn fetch(ctx: &Ctx<'_>) -> Result<Prepared, DataError> {
    let unpacked = ctx.get(Package::Debian("dataset-fashion-mnist"))?;
    let src = unpacked.join(IDX_DIR);
    let mut parts = Vec::new();
    for prefix in ["train", "t10k"] {
        let images = read_idx_images(&src.join(format!("{prefix}-images-idx3-ubyte.gz")))?;
        let lab_path = src.join(format!("{prefix}-labels-idx1-ubyte.gz"));
        let labels = read_idx_labels(&lab_path)?;
        if labels.len() != images.count {
            return Err(DataError::format(
                "IDX label file",
                &lab_path,
                format!("{} labels for {} images", labels.len(), images.count),
            ));
        }
        let (w, h) = (images.cols as u32, images.rows as u32);
        let mut items = Vec::with_capacity(images.count);
        for (i, &l) in labels.iter().enumerate() {
            let name = CLASSNAMES.get(l as usize).ok_or_else(|| {
                DataError::format(
                    "IDX label file",
                    &lab_path,
                    format!("label {l} at {i} is not 0..9"),
                )
            })?;
            let px = images.grey(i).map(|g| g.to_vec()).unwrap_or_default();
            items.push((
                format!("{}/{prefix}_{i:05}.png", folder_name(name)),
                l as usize,
                px,
            ));
        }
        parts.push(write_grey_pngs(&ctx.images, items, w, h)?);
    }
    let test = parts.pop().unwrap_or_default();
    let train_all = parts.pop().unwrap_or_default();
    let (train, val) = carve_val(train_all, 0.1, DEFAULT_SPLIT_SEED);
    Ok(Prepared {
        classnames: CLASSNAMES.iter().map(|s| s.to_string()).collect(),
        template: "a photo of a {}.".into(),
        split: Split { train, val, test },
        source: "Debian package dataset-fashion-mnist (official 60k/10k split; val = 10% of each train class, seed 0)".into(),
    })
}
