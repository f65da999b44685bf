//! Animal-MNIST from the PyPI wheel `animal-mnist` 0.4: gzip'd pickled uint8 arrays 10000×28×28.
use std::io::Read;

use super::archive::{tgz_members, zip_members};
use super::Package;
use super::{write_grey_pngs, Ctx, Prepared};
use crate::error::DataError;
use crate::pickle::parse_numpy_pickle;
use crate::sources::common::{split_per_class, DEFAULT_SPLIT_SEED};

/// Class names in label order.
pub const CLASSNAMES: [&str; 10] = [
    "bear", "bird", "cat", "cow", "dog", "elephant", "giraffe", "horse", "sheep", "zebra",
];

const DATA: &str = "animal_data_version_3.gz";
const LABELS: &str = "animal_label_version_3.gz";

fn gunzip(b: &[u8], name: &str) -> Result<Vec<u8>, DataError> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(b)
        .read_to_end(&mut out)
        .map_err(|e| DataError::format("gzip member", name, e.to_string()))?;
    Ok(out)
}

pub(crate) fn fetch(ctx: &Ctx<'_>) -> Result<Prepared, DataError> {
    let pkg = ctx.get(Package::PyPI("animal-mnist==0.4"))?;
    let keep = |n: &str| n.ends_with(DATA) || n.ends_with(LABELS);
    let members = if pkg.to_string_lossy().ends_with(".tar.gz") {
        tgz_members(&pkg, keep)?
    } else {
        zip_members(&pkg, keep)?
    };
    let get = |suffix: &str| {
        members
            .iter()
            .find(|(n, _)| n.ends_with(suffix))
            .ok_or_else(|| {
                DataError::format("animal-mnist package", &pkg, format!("no member {suffix}"))
            })
    };
    let (dname, dbytes) = get(DATA)?;
    let (lname, lbytes) = get(LABELS)?;
    let data = parse_numpy_pickle(&gunzip(dbytes, dname)?)
        .map_err(|e| DataError::format("pickled array", dname.as_str(), e))?;
    let labels = parse_numpy_pickle(&gunzip(lbytes, lname)?)
        .map_err(|e| DataError::format("pickled array", lname.as_str(), e))?;
    let labels = labels
        .to_i64()
        .map_err(|e| DataError::format("pickled array", lname.as_str(), e))?;
    if data.dtype != "u1" || data.shape.len() != 3 || data.shape[0] != labels.len() {
        return Err(DataError::format(
            "pickled array",
            dname.as_str(),
            format!(
                "expected uint8 N×H×W for {} labels, got {} {:?}",
                labels.len(),
                data.dtype,
                data.shape
            ),
        ));
    }
    let (h, w) = (data.shape[1], data.shape[2]);
    let mut items = Vec::with_capacity(labels.len());
    for (i, &l) in labels.iter().enumerate() {
        let name = usize::try_from(l)
            .ok()
            .and_then(|l| CLASSNAMES.get(l))
            .ok_or_else(|| {
                DataError::format(
                    "pickled array",
                    lname.as_str(),
                    format!("label {l} at {i} is not 0..9"),
                )
            })?;
        items.push((
            format!("{name}/{i:05}.png"),
            l as usize,
            data.data[i * h * w..(i + 1) * h * w].to_vec(),
        ));
    }
    let samples = write_grey_pngs(&ctx.images, items, w as u32, h as u32)?;
    Ok(Prepared {
        classnames: CLASSNAMES.iter().map(|s| s.to_string()).collect(),
        template: "a silhouette of a {}.".into(),
        split: split_per_class(samples, 0.5, 0.2, DEFAULT_SPLIT_SEED),
        source: "PyPI animal-mnist 0.4 (seeded per-class 50/20/30 split, seed 0)".into(),
    })
}
