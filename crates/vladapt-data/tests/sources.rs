//! Every dataset format on small generated trees.
mod common;

use std::collections::HashSet;
use std::io::Write;

use common::{corrupt, png, write, TempDir};
use vladapt_data::{
    dataset_names, load_dataset, open_rgb, parse_dataset_name, verify, DataError, ImageLimits,
    ImageRef, Sample,
};

#[test]
fn registry_lists_known_names_on_unknown() {
    let err = load_dataset("NoSuchSet", std::path::Path::new("/nonexistent")).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, DataError::UnknownDataset { .. }));
    assert!(msg.contains("NoSuchSet"), "{msg}");
    for n in [
        "ImageNet",
        "OxfordPets",
        "DescribableTextures",
        "ImageNetR",
        "fashion-mnist",
        "imagefolder",
        "csv",
        "vladapt",
    ] {
        assert!(msg.contains(n), "{n} missing from: {msg}");
    }
    assert!(parse_dataset_name("whatever").is_err());
}

#[test]
fn names_parse_case_and_aliases() {
    assert_eq!(parse_dataset_name("dtd").unwrap(), "DescribableTextures");
    assert_eq!(parse_dataset_name("oxford_pets").unwrap(), "OxfordPets");
    assert_eq!(parse_dataset_name("IMAGENET-A").unwrap(), "ImageNetA");
    assert_eq!(parse_dataset_name("flowers102").unwrap(), "OxfordFlowers");
    assert_eq!(
        parse_dataset_name("Fashion_MNIST").unwrap(),
        "fashion-mnist"
    );
    for n in dataset_names() {
        assert_eq!(
            parse_dataset_name(n).unwrap(),
            *n,
            "registry name {n} must parse to itself"
        );
    }
    assert_eq!(dataset_names().len(), 23);
}

#[test]
fn image_folder_split_names_and_verify() {
    let t = TempDir::new("folder");
    let root = t.path().join("shapes");
    for (ci, class) in ["red_circle", "blue_square"].iter().enumerate() {
        for i in 0..10 {
            png(
                &root.join(class).join(format!("{i:02}.png")),
                8,
                6,
                [ci as u8 * 100, i as u8, 7],
            );
        }
    }
    corrupt(&root.join("red_circle").join("99_bad.png"));
    write(
        &root.join("red_circle").join("notes.txt"),
        "ignored, not an image",
    );
    let d = load_dataset("imagefolder", &root).unwrap();
    // Sorted folder names, `_` → space.
    assert_eq!(d.classnames, vec!["blue square", "red circle"]);
    assert_eq!(d.name, "shapes");
    assert_eq!(d.template, "a photo of a {}.");
    // blue: 10 files → round(5)=5 / round(2)=2 / 3; red: 11 files → round(5.5)=6 (half to even) / round(2.2)=2 / 3.
    let count = |l: &[Sample], label| l.iter().filter(|s| s.label == label).count();
    assert_eq!(
        (
            count(&d.split.train, 0),
            count(&d.split.val, 0),
            count(&d.split.test, 0)
        ),
        (5, 2, 3)
    );
    assert_eq!(
        (
            count(&d.split.train, 1),
            count(&d.split.val, 1),
            count(&d.split.test, 1)
        ),
        (6, 2, 3)
    );
    // The three parts are disjoint and cover every image once.
    let all: Vec<_> = d
        .split
        .train
        .iter()
        .chain(&d.split.val)
        .chain(&d.split.test)
        .map(|s| s.image.clone())
        .collect();
    assert_eq!(all.iter().collect::<HashSet<_>>().len(), 21);
    // Seeded: loading again gives the same split.
    assert_eq!(load_dataset("imagefolder", &root).unwrap().split, d.split);

    let quick = verify(&d, &ImageLimits::default(), false);
    assert!(quick.is_ok(), "{quick}");
    assert_eq!(quick.totals, [11, 4, 6]);
    let full = verify(&d, &ImageLimits::default(), true);
    assert!(!full.is_ok());
    assert_eq!(full.undecodable.len(), 1, "{full}");
    assert!(full.undecodable[0].image.ends_with("99_bad.png"));
    assert!(full.to_string().contains("99_bad.png"));
    let json = serde_json::to_value(&full).unwrap();
    assert_eq!(json["per_class"][1]["name"], "red circle");
    assert_eq!(json["per_class"][1]["train"], 6);
}

#[test]
fn image_folder_with_explicit_split_dirs() {
    let t = TempDir::new("folder-split");
    let root = t.path();
    for class in ["cat", "dog"] {
        for i in 0..3 {
            png(
                &root.join("train").join(class).join(format!("{i}.png")),
                4,
                4,
                [1, 2, 3],
            );
        }
        png(
            &root.join("test").join(class).join("t.png"),
            4,
            4,
            [1, 2, 3],
        );
    }
    let d = load_dataset("ImageFolder", root).unwrap();
    assert_eq!(d.classnames, vec!["cat", "dog"]);
    assert_eq!(
        (d.split.train.len(), d.split.val.len(), d.split.test.len()),
        (6, 0, 2)
    );
    assert_eq!(d.split.test[1].label, 1);
}

#[test]
fn csv_with_classnames_and_header() {
    let t = TempDir::new("csv");
    let root = t.path();
    for i in 0..4 {
        png(&root.join("img").join(format!("a{i}.png")), 4, 4, [0, 0, 0]);
        png(&root.join("img").join(format!("b{i}.png")), 4, 4, [9, 9, 9]);
    }
    let mut text = String::from("path,class,split\n");
    for i in 0..4 {
        let part = if i < 2 {
            "train"
        } else if i == 2 {
            "val"
        } else {
            "test"
        };
        text += &format!("img/a{i}.png,zebra_fish,{part}\nimg/b{i}.png,ant,{part}\n");
    }
    write(&root.join("list.csv"), &text);
    let d = load_dataset("csv", &root.join("list.csv")).unwrap();
    assert_eq!(d.classnames, vec!["ant", "zebra fish"]);
    assert_eq!(
        (d.split.train.len(), d.split.val.len(), d.split.test.len()),
        (4, 2, 2)
    );
    assert_eq!(
        d.split.train[0],
        Sample {
            image: ImageRef::File(root.join("img/a0.png")),
            label: 1
        }
    );
    assert!(verify(&d, &ImageLimits::default(), true).is_ok());
}

#[test]
fn csv_numeric_labels_without_header() {
    let t = TempDir::new("csv2");
    let root = t.path();
    let mut text = String::new();
    for i in 0..10 {
        png(&root.join(format!("x{i}.png")), 4, 4, [0, 0, 0]);
        text += &format!("\"x{i}.png\",{}\n", i % 2);
    }
    write(&root.join("data.csv"), &text);
    write(&root.join("classnames.txt"), "even_number\nodd number\n");
    let d = load_dataset("csv", &root.join("data.csv")).unwrap();
    assert_eq!(d.classnames, vec!["even number", "odd number"]);
    assert_eq!(d.name, "data");
    // 5 per class → 2 (round(2.5) half-to-even) / 1 / 2.
    assert_eq!(
        (d.split.train.len(), d.split.val.len(), d.split.test.len()),
        (4, 2, 4)
    );
    // Bad split value is an error naming the line.
    write(&root.join("bad.csv"), "x0.png,0,train\nx1.png,1,holdout\n");
    let e = load_dataset("csv", &root.join("bad.csv"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("line 2") && e.contains("holdout"), "{e}");
}

/// A Dassl split file, one missing image and one corrupt image.
#[test]
fn dassl_json_pets_with_missing_and_corrupt() {
    let t = TempDir::new("pets");
    let dir = t.path().join("oxford_pets");
    let img = dir.join("images");
    png(&img.join("Abyssinian_1.jpg"), 5, 5, [1, 1, 1]);
    png(&img.join("Abyssinian_2.jpg"), 5, 5, [1, 1, 1]);
    png(&img.join("american_bulldog_1.jpg"), 5, 5, [1, 1, 1]);
    corrupt(&img.join("american_bulldog_2.jpg"));
    write(
        &dir.join("split_zhou_OxfordPets.json"),
        r#"{"train": [["Abyssinian_1.jpg", 0, "abyssinian"], ["american_bulldog_1.jpg", 1, "american_bulldog"]],
            "val": [["Abyssinian_2.jpg", 0, "abyssinian"]],
            "test": [["american_bulldog_2.jpg", 1, "american_bulldog"], ["missing_3.jpg", 1, "american_bulldog"]]}"#,
    );
    let d = load_dataset("OxfordPets", t.path()).unwrap();
    assert_eq!(d.classnames, vec!["abyssinian", "american bulldog"]);
    assert_eq!(d.template, "a photo of a {}, a type of pet.");
    assert_eq!(
        d.prompts()[1],
        "a photo of a american bulldog, a type of pet."
    );
    assert_eq!(
        d.split.test[1].image,
        ImageRef::File(img.join("missing_3.jpg"))
    );
    let r = verify(&d, &ImageLimits::default(), true);
    assert_eq!(r.missing.len(), 1);
    assert!(r.missing[0].image.ends_with("missing_3.jpg"));
    assert_eq!(r.missing[0].split, "test");
    assert_eq!(r.undecodable.len(), 1);
    assert!(r.undecodable[0].image.ends_with("american_bulldog_2.jpg"));
    assert_eq!(r.per_class[1].test, 2);
    assert!(!r.is_ok());
    // The missing json of a json-only dataset is named in the error.
    let e = load_dataset("Food101", t.path()).unwrap_err().to_string();
    assert!(e.contains("split_zhou_Food101.json"), "{e}");
}

#[test]
fn dassl_inconsistent_names_are_rejected() {
    let t = TempDir::new("ucf");
    let dir = t.path().join("ucf101");
    std::fs::create_dir_all(dir.join("UCF-101-midframes")).unwrap();
    write(
        &dir.join("split_zhou_UCF101.json"),
        r#"{"train": [["a.jpg", 0, "Apply_Eye_Makeup"], ["b.jpg", 0, "Other"]], "val": [], "test": []}"#,
    );
    let e = load_dataset("ucf101", t.path()).unwrap_err().to_string();
    assert!(
        e.contains("train[1]") && e.contains("Apply Eye Makeup"),
        "{e}"
    );
    write(
        &dir.join("split_zhou_UCF101.json"),
        r#"{"train": [["a.jpg", 0, "Apply_Eye_Makeup"]], "val": [], "test": [["b.jpg", 1, "Band_Marching"]]}"#,
    );
    let d = load_dataset("UCF101", t.path()).unwrap();
    assert_eq!(d.classnames, vec!["Apply Eye Makeup", "Band Marching"]);
    assert_eq!(
        d.prompts()[0],
        "a photo of a person doing Apply Eye Makeup."
    );
}

#[test]
fn caltech_and_eurosat_folder_fallback_cleanups() {
    let t = TempDir::new("cal");
    let cal = t.path().join("caltech-101").join("101_ObjectCategories");
    for f in [
        "BACKGROUND_Google",
        "Faces",
        "Faces_easy",
        "Leopards",
        "airplanes",
        "sea_horse",
    ] {
        png(&cal.join(f).join("image_0001.jpg"), 4, 4, [0, 0, 0]);
    }
    let d = load_dataset("Caltech101", t.path()).unwrap();
    assert_eq!(
        d.classnames,
        vec!["face", "leopard", "airplane", "sea horse"]
    );
    let eu = t.path().join("eurosat").join("2750");
    for f in ["AnnualCrop", "SeaLake", "Highway"] {
        png(&eu.join(f).join(format!("{f}_1.jpg")), 4, 4, [0, 0, 0]);
    }
    let d = load_dataset("eurosat", t.path()).unwrap();
    assert_eq!(
        d.classnames,
        vec!["Annual Crop Land", "Highway or Road", "Sea or Lake"]
    );
    assert_eq!(
        d.prompt(2).unwrap(),
        "a centered satellite photo of Sea or Lake."
    );
    // With a json the raw names are renamed too (idempotent for already-renamed names).
    write(
        &t.path().join("eurosat").join("split_zhou_EuroSAT.json"),
        r#"{"train": [["AnnualCrop/AnnualCrop_1.jpg", 0, "AnnualCrop"], ["SeaLake/SeaLake_1.jpg", 1, "Sea or Lake"]], "val": [], "test": []}"#,
    );
    assert_eq!(
        load_dataset("EuroSAT", t.path()).unwrap().classnames,
        vec!["Annual Crop Land", "Sea or Lake"]
    );
}

#[test]
fn fgvc_aircraft_variant_files() {
    let t = TempDir::new("air");
    let dir = t.path().join("fgvc_aircraft");
    write(&dir.join("variants.txt"), "707-320\nA300B4\nDC-10\n");
    write(
        &dir.join("images_variant_train.txt"),
        "1025794 707-320\n1340192 DC-10\n",
    );
    write(&dir.join("images_variant_val.txt"), "0056978 A300B4\n");
    write(&dir.join("images_variant_test.txt"), "1514522 DC-10\n");
    let d = load_dataset("FGVCAircraft", t.path()).unwrap();
    assert_eq!(d.classnames, vec!["707-320", "A300B4", "DC-10"]);
    assert_eq!(
        d.split.train[1],
        Sample {
            image: ImageRef::File(dir.join("images/1340192.jpg")),
            label: 2
        }
    );
    assert_eq!(d.split.val[0].label, 1);
    assert_eq!(d.template, "a photo of a {}, a type of aircraft.");
    write(&dir.join("images_variant_test.txt"), "1514522 Concorde\n");
    let e = load_dataset("aircraft", t.path()).unwrap_err().to_string();
    assert!(e.contains("Concorde") && e.contains("line 1"), "{e}");
}

fn imagenet_classnames(dir: &std::path::Path) {
    write(
        &dir.join("classnames.txt"),
        "n01440764 tench\nn01443537 goldfish\nn01484850 great white shark\nn01491361 tiger shark\n",
    );
}

#[test]
fn imagenet_and_dg_variants() {
    let t = TempDir::new("inet");
    let root = t.path();
    let inet = root.join("imagenet");
    imagenet_classnames(&inet);
    for w in ["n01440764", "n01443537", "n01484850", "n01491361"] {
        png(
            &inet.join("images/train").join(w).join("a.JPEG"),
            4,
            4,
            [0, 0, 0],
        );
        png(
            &inet.join("images/val").join(w).join("v.JPEG"),
            4,
            4,
            [0, 0, 0],
        );
    }
    let d = load_dataset("ImageNet", root).unwrap();
    assert_eq!(
        d.classnames,
        vec!["tench", "goldfish", "great white shark", "tiger shark"]
    );
    assert_eq!(
        (d.split.train.len(), d.split.val.len(), d.split.test.len()),
        (4, 4, 4)
    );
    assert_eq!(d.split.test[3].label, 3);

    // ImageNet-R: a subset of wnid folders, labels 0.. over the sorted folders, names from ImageNet's classnames.txt.
    for w in ["n01491361", "n01443537"] {
        png(
            &root
                .join("imagenet-rendition/imagenet-r")
                .join(w)
                .join("r.jpg"),
            4,
            4,
            [0, 0, 0],
        );
    }
    let r = load_dataset("imagenet-r", root).unwrap();
    assert_eq!(r.classnames, vec!["goldfish", "tiger shark"]);
    assert_eq!(
        r.split.test.iter().map(|s| s.label).collect::<Vec<_>>(),
        vec![0, 1]
    );
    assert!(r.split.train.is_empty());

    // ImageNetV2: numbered folders in ImageNet label order.
    let v2 = root.join("imagenetv2/imagenetv2-matched-frequency-format-val");
    png(&v2.join("2").join("x.jpeg"), 4, 4, [0, 0, 0]);
    png(&v2.join("0").join("y.jpeg"), 4, 4, [0, 0, 0]);
    let d = load_dataset("ImageNetV2", root).unwrap();
    assert_eq!(d.num_classes(), 4);
    assert_eq!(
        d.split.test.iter().map(|s| s.label).collect::<Vec<_>>(),
        vec![0, 2]
    );

    // A flat val folder is an explicit error rather than an empty test set.
    let flat = TempDir::new("flat");
    imagenet_classnames(&flat.path().join("imagenet"));
    png(
        &flat
            .path()
            .join("imagenet/images/val/ILSVRC2012_val_00000001.JPEG"),
        4,
        4,
        [0, 0, 0],
    );
    let e = load_dataset("ImageNet", flat.path())
        .unwrap_err()
        .to_string();
    assert!(e.contains("flat"), "{e}");
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

#[test]
fn idx_files_gz_and_plain() {
    use vladapt_data::idx::{encode_idx_images, encode_idx_labels};
    let t = TempDir::new("idx");
    let root = t.path();
    // 20 train images of 3×2 with pixel value = image index, labels alternate 0/1.
    let px: Vec<u8> = (0..20u8).flat_map(|i| std::iter::repeat_n(i, 6)).collect();
    let labels: Vec<u8> = (0..20).map(|i| i % 2).collect();
    std::fs::write(
        root.join("train-images-idx3-ubyte.gz"),
        gz(&encode_idx_images(20, 2, 3, &px)),
    )
    .unwrap();
    std::fs::write(
        root.join("train-labels-idx1-ubyte"),
        encode_idx_labels(&labels),
    )
    .unwrap();
    std::fs::write(
        root.join("t10k-images-idx3-ubyte"),
        encode_idx_images(2, 2, 3, &[200; 12]),
    )
    .unwrap();
    std::fs::write(
        root.join("t10k-labels-idx1-ubyte.gz"),
        gz(&encode_idx_labels(&[1, 0])),
    )
    .unwrap();
    let d = load_dataset("idx", root).unwrap();
    assert_eq!(d.classnames, vec!["0", "1"]);
    // 10 per class → val = round(1.0) = 1 per class.
    assert_eq!(
        (d.split.train.len(), d.split.val.len(), d.split.test.len()),
        (18, 2, 2)
    );
    let s = &d.split.train[0];
    let ImageRef::Idx { index, .. } = &s.image else {
        panic!("IDX ref expected")
    };
    let img = open_rgb(&s.image, &ImageLimits::default()).unwrap();
    assert_eq!(img.dimensions(), (3, 2));
    assert_eq!(img.get_pixel(2, 1).0, [*index as u8; 3]);
    assert_eq!(s.label, index % 2);
    let bad = ImageRef::Idx {
        path: root.join("t10k-images-idx3-ubyte"),
        index: 5,
    };
    assert!(open_rgb(&bad, &ImageLimits::default())
        .unwrap_err()
        .to_string()
        .contains("out of range"));
    assert!(verify(&d, &ImageLimits::default(), true).is_ok());
}

#[test]
fn vladapt_descriptor_roundtrip_and_named_folder() {
    let t = TempDir::new("vl");
    let dir = t.path().join("my-world");
    png(&dir.join("images/a/1.png"), 4, 4, [0, 0, 0]);
    png(&dir.join("images/b/1.png"), 4, 4, [0, 0, 0]);
    let split = vladapt_data::Split {
        train: vec![Sample {
            image: ImageRef::File(dir.join("images/a/1.png")),
            label: 0,
        }],
        val: vec![],
        test: vec![Sample {
            image: ImageRef::File(dir.join("images/b/1.png")),
            label: 1,
        }],
    };
    let names = vec!["red cube".to_string(), "blue_ball".to_string()];
    vladapt_data::write_vladapt_dir(&dir, "my-world", &names, "a render of a {}.", &split).unwrap();
    let text = std::fs::read_to_string(dir.join("split.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["test"][0], serde_json::json!(["b/1.png", 1, "blue_ball"]));
    let d = load_dataset("vladapt", &dir).unwrap();
    assert_eq!(d.classnames, vec!["red cube", "blue ball"]);
    assert_eq!(d.split, split);
    // An unregistered name with a descriptor folder under the root also loads.
    assert_eq!(load_dataset("my-world", t.path()).unwrap().split, split);
    // A fetched name that was never fetched says how to fetch it.
    let e = load_dataset("animal-mnist", t.path())
        .unwrap_err()
        .to_string();
    assert!(e.contains("fetch animal-mnist"), "{e}");
}
