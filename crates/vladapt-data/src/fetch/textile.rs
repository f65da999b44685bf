//! Simulated textile defects from the PyPI wheel `conformal-clip-data` 0.1.4: 2,000 JPEGs (250×250)
//! in `nominal` (1000), `local` (500) and `global` (500) folders.
use super::archive::zip_members;
use super::Package;
use super::{Ctx, Prepared};
use crate::error::DataError;
use crate::sources::common::{split_per_class, DEFAULT_SPLIT_SEED};
use crate::types::{ImageRef, Sample};

/// (folder in the wheel, class name for prompting).
pub const CLASSES: [(&str, &str); 3] = [
    ("nominal", "defect-free fabric"),
    ("local", "fabric with a local defect"),
    ("global", "fabric with a global defect"),
];

const PREFIX: &str = "conformal_clip_data/data/textile_images/simulated/";

pub(crate) fn fetch(ctx: &Ctx<'_>) -> Result<Prepared, DataError> {
    let whl = ctx.get(Package::PyPI("conformal-clip-data==0.1.4"))?;
    let mut members = zip_members(&whl, |n| {
        n.starts_with(PREFIX) && n.to_lowercase().ends_with(".jpg")
    })?;
    members.sort_by(|a, b| a.0.cmp(&b.0));
    let mut samples = Vec::with_capacity(members.len());
    for (name, bytes) in members {
        let rest = &name[PREFIX.len()..];
        let Some((folder, file)) = rest.split_once('/') else {
            continue;
        };
        let Some(label) = CLASSES.iter().position(|(f, _)| *f == folder) else {
            continue;
        };
        let dir = ctx.images.join(folder);
        std::fs::create_dir_all(&dir).map_err(|e| DataError::io("cannot create", &dir, e))?;
        let path = dir.join(file);
        std::fs::write(&path, &bytes).map_err(|e| DataError::io("cannot write", &path, e))?;
        samples.push(Sample {
            image: ImageRef::File(path),
            label,
        });
    }
    if samples.is_empty() {
        return Err(DataError::format(
            "wheel",
            &whl,
            format!("no JPEGs under {PREFIX}"),
        ));
    }
    Ok(Prepared {
        classnames: CLASSES.iter().map(|(_, n)| n.to_string()).collect(),
        template: "a photo of {}.".into(),
        split: split_per_class(samples, 0.5, 0.2, DEFAULT_SPLIT_SEED),
        source: "PyPI conformal-clip-data 0.1.4 (seeded per-class 50/20/30 split, seed 0)".into(),
    })
}
