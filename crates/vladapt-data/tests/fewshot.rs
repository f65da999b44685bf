//! Few-shot sampling and base-to-novel splitting.
mod common;

use std::collections::HashMap;
use std::path::PathBuf;

use vladapt_data::{
    base_novel, base_novel_counts, filter_to_base, filter_to_novel, sample_few_shot, DataError,
    Dataset, FewShotSplit, ImageRef, Sample, Split,
};

fn s(name: &str, label: usize) -> Sample {
    Sample {
        image: ImageRef::File(PathBuf::from(name)),
        label,
    }
}

/// Labels appear in the order 2, 0, 1; class 2 has 6 items, class 0 has 5, class 1 has 4.
fn pool() -> Vec<Sample> {
    let mut v = Vec::new();
    for i in 0..6 {
        v.push(s(&format!("c2_{i}"), 2));
        if i < 5 {
            v.push(s(&format!("c0_{i}"), 0));
        }
        if i < 4 {
            v.push(s(&format!("c1_{i}"), 1));
        }
    }
    v
}

#[test]
fn balanced_reproducible_first_occurrence_order() {
    let p = pool();
    let a = sample_few_shot(&p, 3, 7, false).unwrap();
    assert_eq!(a.len(), 9);
    assert_eq!(
        a.iter().map(|x| x.label).collect::<Vec<_>>(),
        vec![2, 2, 2, 0, 0, 0, 1, 1, 1]
    );
    // Each drawn item belongs to the pool, no duplicates.
    let mut seen = std::collections::HashSet::new();
    for x in &a {
        assert!(p.contains(x));
        assert!(seen.insert(x.image.clone()));
    }
    assert_eq!(
        sample_few_shot(&p, 3, 7, false).unwrap(),
        a,
        "same seed, same draw"
    );
    let different = (0..20u64)
        .filter(|&seed| sample_few_shot(&p, 3, seed, false).unwrap() != a)
        .count();
    assert!(
        different >= 15,
        "other seeds should mostly draw differently ({different}/20)"
    );
}

#[test]
fn draws_are_spread_over_items() {
    // Over many seeds every item of a class gets drawn (no item is unreachable), roughly uniformly.
    let p = pool();
    let mut hits: HashMap<String, usize> = HashMap::new();
    for seed in 0..600u64 {
        for x in sample_few_shot(&p, 2, seed, false).unwrap() {
            *hits.entry(x.image.to_string()).or_default() += 1;
        }
    }
    // Class 2: 6 items, 2 draws per seed → expected 200 each.
    for i in 0..6 {
        let h = hits[&format!("c2_{i}")];
        assert!((140..=260).contains(&h), "c2_{i} drawn {h} times");
    }
}

#[test]
fn too_few_is_an_error_naming_the_class_unless_allowed() {
    let p = pool();
    let e = sample_few_shot(&p, 5, 0, false).unwrap_err();
    match &e {
        DataError::TooFewShots {
            label,
            available,
            k,
            ..
        } => assert_eq!((*label, *available, *k), (1, 4, 5)),
        other => panic!("unexpected {other}"),
    }
    let fewer = sample_few_shot(&p, 5, 0, true).unwrap();
    assert_eq!(fewer.len(), 5 + 5 + 4);
    let d = Dataset {
        name: "Toy".into(),
        classnames: vec!["ant".into(), "bee".into(), "cat".into()],
        template: "a photo of a {}.".into(),
        split: Split {
            train: p.clone(),
            val: p[..6].to_vec(),
            test: vec![],
        },
        root: PathBuf::from("."),
    };
    let msg = FewShotSplit::sample(&d, 5, 0, false)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("bee") && msg.contains("4 samples"), "{msg}");
}

#[test]
fn fewshot_split_json_roundtrip_and_val_k() {
    let p = pool();
    let d = Dataset {
        name: "Toy".into(),
        classnames: vec!["ant".into(), "bee".into(), "cat".into()],
        template: "a photo of a {}.".into(),
        split: Split {
            train: p.clone(),
            val: p.clone(),
            test: vec![],
        },
        root: PathBuf::from("."),
    };
    let f = FewShotSplit::sample(&d, 4, 3, false).unwrap();
    assert_eq!(
        (f.k, f.k_val, f.seed, f.train.len(), f.val.len()),
        (4, 4, 3, 12, 12)
    );
    let f2 = FewShotSplit::sample(&d, 2, 3, false).unwrap();
    assert_eq!((f2.k_val, f2.val.len()), (2, 6));
    let f16 = FewShotSplit::sample(&d, 16, 3, true).unwrap();
    assert_eq!(f16.k_val, 4, "val uses min(K, 4)");
    let t = common::TempDir::new("fs");
    let path = t.path().join("split_fewshot/shot_4-seed_3.json");
    f.save(&path).unwrap();
    let back = FewShotSplit::load(&path).unwrap();
    assert_eq!(back, f);
    back.check_matches(&d, &path).unwrap();
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(json["dataset"], "Toy");
    assert_eq!(json["k"], 4);
    let other = Dataset {
        name: "Other".into(),
        ..d.clone()
    };
    assert!(back.check_matches(&other, &path).is_err());
}

fn toy(n: usize) -> Dataset {
    let names: Vec<String> = (0..n).map(|i| format!("class{i}")).collect();
    let list: Vec<Sample> = (0..n)
        .flat_map(|l| (0..2).map(move |i| s(&format!("{l}_{i}"), l)))
        .collect();
    Dataset {
        name: "Toy".into(),
        classnames: names,
        template: "{}".into(),
        split: Split {
            train: list.clone(),
            val: list.clone(),
            test: list,
        },
        root: PathBuf::new(),
    }
}

#[test]
fn base_novel_odd_and_even() {
    assert_eq!(base_novel_counts(37), (19, 18));
    assert_eq!(base_novel_counts(10), (5, 5));
    assert_eq!(base_novel_counts(397), (199, 198));
    for (n, m) in [(5usize, 3usize), (4, 2)] {
        let d = toy(n);
        let (b, nv) = base_novel(&d);
        assert_eq!(
            b.classnames,
            (0..m).map(|i| format!("class{i}")).collect::<Vec<_>>()
        );
        assert_eq!(
            nv.classnames,
            (m..n).map(|i| format!("class{i}")).collect::<Vec<_>>()
        );
        assert_eq!(b.split.test.len(), 2 * m);
        assert_eq!(nv.split.test.len(), 2 * (n - m));
        // Novel labels remapped to 0.., image refs preserved.
        for x in &nv.split.test {
            let name = x.image.to_string();
            let orig: usize = name.split('_').next().unwrap().parse().unwrap();
            assert_eq!(x.label, orig - m);
            assert_eq!(nv.classnames[x.label], format!("class{orig}"));
        }
        for x in &b.split.train {
            assert!(x.label < m);
        }
    }
    // Sampling first, then filtering to base.
    let d = toy(5);
    let shots = sample_few_shot(&d.split.train, 1, 0, false).unwrap();
    let base = filter_to_base(&shots, 5);
    assert_eq!(
        base.iter().map(|x| x.label).collect::<Vec<_>>(),
        vec![0, 1, 2]
    );
    let novel = filter_to_novel(&shots, 5);
    assert_eq!(
        novel.iter().map(|x| x.label).collect::<Vec<_>>(),
        vec![0, 1]
    );
}
