//! Fuzzing on stable Rust of the dataset index readers and the pickle reader: mutated CSV lists,
//! Dassl split JSON, few-shot split JSON, IDX image/label files (plain and gzip'd), NumPy
//! pickles, PyTorch `data.pkl` streams under the `torch.load(weights_only=True)` allowlist, and
//! whole `.pth` checkpoints through `vladapt convert`, seeded from `fixtures/fuzz/<target>/` (and
//! `fixtures/pth/` for the checkpoints). Property: never a panic; every error names its
//! file (the pickle reader takes bytes, so its errors must be non-empty and the accepted arrays
//! hold exactly shape × itemsize bytes). Memory: sizes declared in headers are checked against the
//! input before anything is allocated (tests at the end). Deterministic; bounded by
//! `VLADAPT_FUZZ_ITERS` (default 1000 per target). Long run:
//! `VLADAPT_FUZZ_ITERS=200000 cargo test --release -p vladapt-data --test fuzz_data`.
mod common;
use std::path::{Path, PathBuf};

use vladapt_data::fetch::pickle::parse_numpy_pickle;
use vladapt_data::idx::{read_idx_images, read_idx_labels};
use vladapt_data::pickle::{unpickle, Allowlist};
use vladapt_data::pth::convert;
use vladapt_data::sources::common::{read_split_file, split_from_file};
use vladapt_data::sources::csv::load_csv;
use vladapt_data::FewShotSplit;
use vladapt_testkit::fuzz::{self, Mutations, Rng};

/// The tokens CSV, JSON, IDX and pickle files are made of.
const TOKENS: &[&[u8]] = &[
    b",",
    b"\"",
    b"\n",
    b"\r\n",
    b"[",
    b"]",
    b"{",
    b"}",
    b"-1",
    b"0",
    b"4294967295",
    b"18446744073709551615",
    b"99999999999",
    b"\xEF\xBB\xBF",
    b"\xFF",
    b"null",
    b"train",
];

/// Byte-level mutations biased towards the tokens these formats are made of.
fn mutate(seed: &[u8], rng: &mut Rng) -> Vec<u8> {
    let m = Mutations {
        bytes: &[0x00, 0x7F, 0x80, 0xFF, b'0', b'9'],
        tokens: TOKENS,
        head: 64,
    };
    fuzz::mutate(seed, rng, &m)
}

fn seeds(target: &str) -> Vec<(String, Vec<u8>)> {
    fuzz::seeds(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../fixtures/fuzz")
            .join(target),
    )
}

/// Run `f` on `VLADAPT_FUZZ_ITERS` (default 1000) mutated inputs; fail on any panic.
fn run(target: &str, f: impl Fn(usize, &mut Rng)) {
    fuzz::run(target, 0xA076_1D64_78BD_642F, fuzz::iterations(1000), f)
}

fn names_file(e: &impl std::fmt::Display, p: &Path) {
    let name = p.file_name().unwrap().to_string_lossy();
    let msg = e.to_string();
    assert!(msg.contains(&*name), "error does not name {name}: {msg}");
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

#[test]
fn mutated_csv_lists_never_panic_and_errors_name_the_file() {
    let seeds = seeds("csv");
    let dir = common::TempDir::new("fuzz");
    run("csv", |it, rng| {
        let (_, seed) = &seeds[it % seeds.len()];
        let p = write(dir.path(), "list.csv", &mutate(seed, rng));
        match load_csv(&p) {
            Err(e) => names_file(&e, &p),
            Ok(d) => {
                let n = d.num_classes();
                for s in d
                    .split
                    .train
                    .iter()
                    .chain(&d.split.val)
                    .chain(&d.split.test)
                {
                    assert!(
                        s.label < n,
                        "label {} of {n} classes in {:?}",
                        s.label,
                        String::from_utf8_lossy(&std::fs::read(&p).unwrap())
                    );
                }
            }
        }
    });
}

#[test]
fn mutated_dassl_split_files_never_panic_and_errors_name_the_file() {
    let seeds = seeds("split");
    let dir = common::TempDir::new("fuzz");
    run("split_json", |it, rng| {
        let (_, seed) = &seeds[it % seeds.len()];
        let p = write(dir.path(), "split_zhou_Fuzz.json", &mutate(seed, rng));
        match read_split_file(&p).and_then(|sf| split_from_file(&sf, dir.path(), &p)) {
            Err(e) => names_file(&e, &p),
            Ok((split, names)) => {
                for s in split.train.iter().chain(&split.val).chain(&split.test) {
                    assert!(s.label < names.len());
                }
            }
        }
    });
}

#[test]
fn mutated_few_shot_split_files_never_panic_and_errors_name_the_file() {
    let seeds = seeds("fewshot");
    let dir = common::TempDir::new("fuzz");
    run("fewshot_json", |it, rng| {
        let (_, seed) = &seeds[it % seeds.len()];
        let p = write(dir.path(), "fewshot_split.json", &mutate(seed, rng));
        if let Err(e) = FewShotSplit::load(&p) {
            names_file(&e, &p);
        }
    });
}

#[test]
fn mutated_idx_files_never_panic_and_errors_name_the_file() {
    let seeds = seeds("idx");
    let dir = common::TempDir::new("fuzz");
    run("idx", |it, rng| {
        let (name, seed) = &seeds[it % seeds.len()];
        let bytes = mutate(seed, rng);
        // Read every mutant both ways: image and label readers share the header code.
        let p = write(dir.path(), name, &bytes);
        match read_idx_images(&p) {
            Err(e) => names_file(&e, &p),
            Ok(f) => {
                assert_eq!(f.pixels.len(), f.count * f.rows * f.cols);
                for i in 0..f.count.min(4) {
                    assert_eq!(f.grey(i).map(<[u8]>::len), Some(f.rows * f.cols));
                }
                assert!(f.grey(f.count).is_none());
            }
        }
        match read_idx_labels(&p) {
            Err(e) => names_file(&e, &p),
            Ok(l) => assert!(l.len() <= bytes.len() || name.ends_with(".gz")),
        }
    });
}

#[test]
fn mutated_pickles_never_panic_and_arrays_match_their_shape() {
    let seeds = seeds("pickle");
    run("pickle", |it, rng| {
        let (_, seed) = &seeds[it % seeds.len()];
        let bytes = mutate(seed, rng);
        match parse_numpy_pickle(&bytes) {
            Err(e) => assert!(!e.is_empty()),
            Ok(a) => {
                let n: usize = a.shape.iter().product();
                assert_eq!(n * a.itemsize(), a.data.len());
                assert!(a.data.len() <= bytes.len());
                if let Ok(v) = a.to_i64() {
                    assert_eq!(v.len(), n);
                }
            }
        }
    });
}

#[test]
fn mutated_torch_pickles_never_panic_under_the_weights_only_allowlist() {
    let seeds = seeds("torch_pickle");
    run("torch_pickle", |it, rng| {
        let (_, seed) = &seeds[it % seeds.len()];
        let bytes = mutate(seed, rng);
        for allow in [Allowlist::Torch, Allowlist::NumPy] {
            if let Err(e) = unpickle(&bytes, allow) {
                assert!(!e.to_string().is_empty());
            }
        }
    });
}

#[test]
fn mutated_pth_checkpoints_never_panic_and_errors_name_the_file() {
    let dir_pth = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/pth");
    let seeds: Vec<Vec<u8>> = ["state_dict.pth", "nested.pth", "views.pth", "legacy.pth"]
        .iter()
        .map(|n| std::fs::read(dir_pth.join(n)).unwrap())
        .collect();
    let dir = common::TempDir::new("fuzz-pth");
    run("pth", |it, rng| {
        let p = write(dir.path(), "ck.pth", &mutate(&seeds[it % seeds.len()], rng));
        let out = dir.path().join("ck.safetensors");
        let _ = std::fs::remove_file(&out);
        match convert(&p, &out, None) {
            Err(e) => {
                names_file(&e, &p);
                assert!(!out.exists(), "a failed conversion left {}", out.display());
            }
            Ok(_) => assert!(out.exists()),
        }
    });
}

#[test]
fn mutated_grounding_split_files_and_jsonl_never_panic_and_name_the_file() {
    use vladapt_data::grounding::{
        load_grounding_jsonl, load_transvg_split, verify_grounding_jsonl, verify_transvg,
        GroundingSplitKind,
    };
    let fix = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/grounding-data");
    let seeds: Vec<Vec<u8>> = [
        "data/unc/unc_train.pth",
        "data/unc/unc_val.pth",
        "data/flickr/flickr_train.pth",
        "data/referit/referit_train.pth",
        "data_bad/unc/unc_train.pth",
        "data_bad/unc/unc_val.pth",
    ]
    .iter()
    .map(|n| std::fs::read(fix.join(n)).unwrap())
    .collect();
    let jsonl = br#"{"image": "a.png", "expression": "the man", "box": [1, 2, 30, 25], "id": 1}
{"image": "b.png", "expression": "left", "box": [0.5, 0, 24, 36], "width": 24, "height": 36}
"#;
    let dir = common::TempDir::new("fuzz-ground");
    let ln_data = fix.join("ln_data");
    run("grounding", |it, rng| {
        let kind = GroundingSplitKind::ALL[it % GroundingSplitKind::ALL.len()];
        let data = dir.path().join("data");
        let file = kind.split_file(&data, "train");
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, mutate(&seeds[it % seeds.len()], rng)).unwrap();
        match verify_transvg(&data, &ln_data, kind, Some("train")) {
            Ok(r) => {
                for p in r.files.iter().flat_map(|f| &f.problems) {
                    assert_eq!(p.file, file);
                }
            }
            Err(e) => names_file(&e, &file),
        }
        if let Err(e) = load_transvg_split(&file, &ln_data.join(kind.image_subdir()), kind) {
            names_file(&e, &file);
        }
        let j = write(dir.path(), "g.jsonl", &mutate(jsonl, rng));
        let image_root = ln_data.join("referit/images");
        if let Err(e) = load_grounding_jsonl(&j, Some(&image_root)) {
            names_file(&e, &j);
        }
        let _ = verify_grounding_jsonl(&j, Some(&image_root));
    });
}

// ---- memory: declared sizes are checked against the input before allocating ----

#[test]
fn idx_header_declaring_more_than_the_file_holds_is_refused() {
    let dir = common::TempDir::new("fuzz");
    let mut h = vec![0, 0, 8, 3];
    for d in [u32::MAX, u32::MAX, u32::MAX] {
        h.extend(d.to_be_bytes());
    }
    let p = write(dir.path(), "huge-images-idx3-ubyte", &h);
    let e = read_idx_images(&p).unwrap_err().to_string();
    assert!(
        e.contains("huge-images-idx3-ubyte") && e.contains("overflow"),
        "{e}"
    );
    h[4..8].copy_from_slice(&60000u32.to_be_bytes());
    h[8..12].copy_from_slice(&28u32.to_be_bytes());
    h[12..16].copy_from_slice(&28u32.to_be_bytes());
    let p = write(dir.path(), "big-images-idx3-ubyte", &h);
    let e = read_idx_images(&p).unwrap_err().to_string();
    assert!(e.contains("47040000 bytes but the file holds 0"), "{e}");
    let p = write(
        dir.path(),
        "big-labels-idx1-ubyte",
        &[0, 0, 8, 1, 0xFF, 0xFF, 0xFF, 0xFF],
    );
    let e = read_idx_labels(&p).unwrap_err().to_string();
    assert!(e.contains("4294967295 labels but the file holds 0"), "{e}");
}

#[test]
fn pickle_declaring_more_bytes_than_it_holds_is_refused() {
    // PROTO 4, BINBYTES8 with a length of 2^60, then nothing.
    let mut b = vec![0x80, 4, 0x8e];
    b.extend((1u64 << 60).to_le_bytes());
    assert!(parse_numpy_pickle(&b).unwrap_err().contains("truncated"));
    // SHORT_BINUNICODE / BINUNICODE8 likewise.
    let mut s = vec![0x80, 4, 0x8d];
    s.extend(u64::MAX.to_le_bytes());
    assert!(parse_numpy_pickle(&s).unwrap_err().contains("truncated"));
}

#[test]
fn pickle_memo_bomb_is_refused() {
    // None, then 64 × (PUT 0, GET 0, TUPLE2): each round doubles the value, 2^64 nodes from
    // 260 bytes if memo copies were not bounded.
    let mut b = vec![0x80, 2, b'N'];
    for _ in 0..64 {
        b.extend([b'q', 0, b'h', 0, 0x86]);
    }
    b.push(b'.');
    let e = parse_numpy_pickle(&b).unwrap_err();
    assert!(e.contains("bomb"), "{e}");
}

#[test]
fn pickle_shape_whose_size_overflows_is_refused() {
    // numpy's pickle of an empty int64 array, with the shape (0,) replaced by (2^61,):
    // 2^61 × 8 bytes wraps to 0 in usize arithmetic; it must not be taken for the empty array.
    let seeds = seeds("pickle");
    let (_, seed) = seeds.iter().find(|(n, _)| n == "empty_i8_p4.pkl").unwrap();
    let ok = parse_numpy_pickle(seed).unwrap();
    assert_eq!((ok.shape.clone(), ok.dtype.as_str()), (vec![0], "i8"));
    let at = seed
        .windows(5)
        .position(|w| w == b"(K\x01K\x00")
        .expect("state tuple")
        + 3;
    let mut big = seed[..at].to_vec();
    big.extend([0x8a, 8]);
    big.extend((1u64 << 61).to_le_bytes());
    big.extend(&seed[at + 2..]);
    let e = parse_numpy_pickle(&big).unwrap_err();
    assert!(e.contains("does not match 0 data bytes"), "{e}");
}

#[test]
fn split_file_with_a_huge_label_is_refused_without_allocating_by_it() {
    let dir = common::TempDir::new("fuzz");
    let p = write(
        dir.path(),
        "split_zhou_Huge.json",
        br#"{"train": [["a.png", 1000000000000000, "x"]], "val": [], "test": []}"#,
    );
    let e = read_split_file(&p)
        .and_then(|sf| split_from_file(&sf, dir.path(), &p))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("split_zhou_Huge.json") && e.contains("label 0 never occurs"),
        "{e}"
    );
}

#[test]
fn csv_with_a_huge_numeric_label_is_refused_without_allocating_by_it() {
    let dir = common::TempDir::new("fuzz");
    let p = write(dir.path(), "list.csv", b"a.png,0\nb.png,10000000000\n");
    let e = load_csv(&p).unwrap_err().to_string();
    assert!(
        e.contains("list.csv") && e.contains("label 10000000000 but only 2 rows"),
        "{e}"
    );
}

#[test]
fn csv_with_label_usize_max_is_refused() {
    // Found by the fuzzer: usize::MAX + 1 wrapped to 0 classes and the CSV was accepted.
    let dir = common::TempDir::new("fuzz");
    let p = write(
        dir.path(),
        "max.csv",
        b"a.png,0\nb.png,18446744073709551615\n",
    );
    let e = load_csv(&p).unwrap_err().to_string();
    assert!(
        e.contains("max.csv") && e.contains("but only 2 rows"),
        "{e}"
    );
}

#[test]
fn split_file_with_label_usize_max_is_refused() {
    let dir = common::TempDir::new("fuzz");
    let p = write(
        dir.path(),
        "split_zhou_Max.json",
        br#"{"train": [["a.png", 0, "a"], ["b.png", 18446744073709551615, "b"]], "val": [], "test": []}"#,
    );
    let e = read_split_file(&p)
        .and_then(|sf| split_from_file(&sf, dir.path(), &p))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("split_zhou_Max.json") && e.contains("label 1 never occurs"),
        "{e}"
    );
}

#[test]
fn pickle_with_an_empty_or_non_ascii_dtype_code_is_refused() {
    // Found by the fuzzer: the itemsize of dtype code "" or "é8" sliced a string inside a char.
    for code in ["", "\u{e9}8", "i"] {
        let a = vladapt_data::fetch::pickle::NdArray {
            shape: vec![1],
            dtype: code.into(),
            little_endian: true,
            data: vec![0; 8],
        };
        assert_eq!(a.itemsize(), 0, "{code:?}");
        assert!(a.to_i64().is_err());
    }
}
