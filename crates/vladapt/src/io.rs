//! File helpers: atomic writes of one file or of a whole directory, and finding the complete
//! copy of a directory that an interrupted replacement left behind.
//!
//! A directory is replaced by renames only (`dst` → `dst.old`, `dst.tmp` → `dst`, then
//! `dst.old` is removed), so at every moment one complete copy exists on disk and
//! [`complete_dir`] finds it.
use crate::{Result, VladaptError};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Write `data` to `path` atomically (a temp file in the same directory, then rename),
/// creating the parent directory.
pub fn write_atomic(path: &Path, data: &[u8]) -> Result<()> {
    if let Some(dir) = path.parent() {
        if !dir.as_os_str().is_empty() {
            std::fs::create_dir_all(dir).map_err(|e| VladaptError::io(dir, e))?;
        }
    }
    let tmp = path.with_extension(format!(
        "{}.tmp",
        path.extension().and_then(|e| e.to_str()).unwrap_or("")
    ));
    std::fs::write(&tmp, data).map_err(|e| VladaptError::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| VladaptError::io(path, e))
}

/// Write `value` as pretty JSON to `path` atomically.
pub fn write_json_atomic<T: Serialize + ?Sized>(path: &Path, value: &T) -> Result<()> {
    let s =
        serde_json::to_vec_pretty(value).map_err(|e| VladaptError::serialize(path.display(), e))?;
    write_atomic(path, &s)
}

/// `dir` with `.{suffix}` appended to its last component.
pub fn sibling(dir: &Path, suffix: &str) -> PathBuf {
    let mut name = dir
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(format!(".{suffix}"));
    dir.with_file_name(name)
}

/// Replace directory `dst` by the complete directory `src` (renames only: `dst` → `dst.old`,
/// `src` → `dst`, then `dst.old` is removed). At every moment either the old or the new
/// directory is complete on disk.
pub fn replace_dir(src: &Path, dst: &Path) -> Result<()> {
    if let Some(parent) = dst.parent() {
        if !parent.as_os_str().is_empty() {
            std::fs::create_dir_all(parent).map_err(|e| VladaptError::io(parent, e))?;
        }
    }
    let old = sibling(dst, "old");
    if old.exists() {
        std::fs::remove_dir_all(&old).map_err(|e| VladaptError::io(&old, e))?;
    }
    if dst.exists() {
        std::fs::rename(dst, &old).map_err(|e| VladaptError::io(dst, e))?;
    }
    std::fs::rename(src, dst).map_err(|e| VladaptError::io(dst, e))?;
    if old.exists() {
        std::fs::remove_dir_all(&old).map_err(|e| VladaptError::io(&old, e))?;
    }
    Ok(())
}

/// Write directory `dst` atomically: `fill` writes the new contents into a fresh `dst.tmp`,
/// which then replaces `dst` ([`replace_dir`]). An error in `fill` leaves `dst` untouched.
pub fn write_dir_atomic(dst: &Path, fill: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let tmp = sibling(dst, "tmp");
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(|e| VladaptError::io(&tmp, e))?;
    }
    std::fs::create_dir_all(&tmp).map_err(|e| VladaptError::io(&tmp, e))?;
    fill(&tmp)?;
    replace_dir(&tmp, dst)
}

/// The complete copy of a directory written by [`write_dir_atomic`]: `dst` if it holds
/// `marker` (the file written last), else `dst.old` left by an interrupted replacement, else
/// `None`.
pub fn complete_dir(dst: &Path, marker: &str) -> Option<PathBuf> {
    [dst.to_path_buf(), sibling(dst, "old")]
        .into_iter()
        .find(|d| d.join(marker).is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replaced_directory_is_complete_at_every_step() {
        let root = tempfile::tempdir().unwrap();
        let dst = root.path().join("ck");
        assert_eq!(complete_dir(&dst, "state.json"), None);
        let write = |v: &str| {
            write_dir_atomic(&dst, |tmp| {
                write_atomic(&tmp.join("state.json"), v.as_bytes())
            })
        };
        write("1").unwrap();
        write("2").unwrap();
        assert_eq!(
            std::fs::read_to_string(dst.join("state.json")).unwrap(),
            "2"
        );
        assert!(!sibling(&dst, "old").exists() && !sibling(&dst, "tmp").exists());
        // A failing writer leaves the previous copy.
        let e = write_dir_atomic(&dst, |_| {
            Err(VladaptError::serialize("state.json", "disk full"))
        });
        assert!(e.is_err());
        assert_eq!(
            std::fs::read_to_string(dst.join("state.json")).unwrap(),
            "2"
        );
        // Interrupted between `dst → dst.old` and `tmp → dst`: the old copy is found.
        std::fs::rename(&dst, sibling(&dst, "old")).unwrap();
        assert_eq!(complete_dir(&dst, "state.json"), Some(sibling(&dst, "old")));
        write("3").unwrap();
        assert_eq!(complete_dir(&dst, "state.json"), Some(dst.clone()));
        assert!(!sibling(&dst, "old").exists());
    }
}
