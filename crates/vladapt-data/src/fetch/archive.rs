//! Reading members of wheels (zip) and npm / sdist tarballs (tar.gz).
use std::io::Read;
use std::path::Path;

use crate::error::DataError;

/// All members of a zip archive whose name satisfies `keep`, as (name, bytes).
pub fn zip_members(
    path: &Path,
    keep: impl Fn(&str) -> bool,
) -> Result<Vec<(String, Vec<u8>)>, DataError> {
    let f = std::fs::File::open(path).map_err(|e| DataError::io("cannot open", path, e))?;
    let mut z = zip::ZipArchive::new(f)
        .map_err(|e| DataError::format("zip archive", path, e.to_string()))?;
    let mut out = Vec::new();
    for i in 0..z.len() {
        let mut m = z
            .by_index(i)
            .map_err(|e| DataError::format("zip archive", path, e.to_string()))?;
        let name = m.name().to_string();
        if m.is_file() && keep(&name) {
            let mut buf = Vec::with_capacity(m.size() as usize);
            m.read_to_end(&mut buf)
                .map_err(|e| DataError::format("zip archive", path, format!("{name}: {e}")))?;
            out.push((name, buf));
        }
    }
    Ok(out)
}

/// All members of a `.tar.gz` / `.tgz` archive whose path satisfies `keep`, as (path, bytes).
pub fn tgz_members(
    path: &Path,
    keep: impl Fn(&str) -> bool,
) -> Result<Vec<(String, Vec<u8>)>, DataError> {
    let f = std::fs::File::open(path).map_err(|e| DataError::io("cannot open", path, e))?;
    let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(f));
    let bad = |e: std::io::Error| DataError::format("tar.gz archive", path, e.to_string());
    let mut out = Vec::new();
    for entry in ar.entries().map_err(bad)? {
        let mut entry = entry.map_err(bad)?;
        let name = entry.path().map_err(bad)?.to_string_lossy().into_owned();
        if entry.header().entry_type().is_file() && keep(&name) {
            let mut buf = Vec::new();
            entry.read_to_end(&mut buf).map_err(bad)?;
            out.push((name, buf));
        }
    }
    Ok(out)
}
