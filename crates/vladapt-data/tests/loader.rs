//! Batch loader: order determinism, drop_last rule, decode-failure policy, transform output.
mod common;

use std::collections::HashSet;

use common::{corrupt, png, TempDir};
use vladapt_data::idx::encode_idx_images;
use vladapt_data::{ImageRef, Loader, LoaderConfig, Sample};

/// n IDX images of 2×2 whose pixels all equal the image index; label = index % 3.
fn idx_samples(t: &TempDir, n: usize) -> Vec<Sample> {
    let px: Vec<u8> = (0..n as u8).flat_map(|i| [i; 4]).collect();
    let p = t.path().join("imgs-idx3-ubyte");
    std::fs::write(&p, encode_idx_images(n, 2, 2, &px)).unwrap();
    (0..n)
        .map(|index| Sample {
            image: ImageRef::Idx {
                path: p.clone(),
                index,
            },
            label: index % 3,
        })
        .collect()
}

fn first_pixel(img: &image::RgbImage, _i: usize) -> Vec<f32> {
    let p = img.get_pixel(0, 0).0;
    vec![p[0] as f32, p[1] as f32]
}

fn epoch_indices(l: &Loader, epoch: u64) -> Vec<usize> {
    l.epoch(epoch).flat_map(|b| b.unwrap().indices).collect()
}

#[test]
fn shuffle_is_deterministic_per_seed_and_epoch() {
    let t = TempDir::new("ld");
    let samples = idx_samples(&t, 23);
    let l = Loader::new(samples.clone(), LoaderConfig::train(5, 42), first_pixel).unwrap();
    let l2 = Loader::new(samples.clone(), LoaderConfig::train(5, 42), first_pixel).unwrap();
    let e0 = epoch_indices(&l, 0);
    assert_eq!(
        e0,
        epoch_indices(&l2, 0),
        "same seed and epoch → same order"
    );
    assert_eq!(e0, l.order(0)[..20].to_vec());
    assert_ne!(e0, epoch_indices(&l, 1), "another epoch → another order");
    let l3 = Loader::new(samples, LoaderConfig::train(5, 43), first_pixel).unwrap();
    assert_ne!(e0, epoch_indices(&l3, 0), "another seed → another order");
    // drop_last: 23 samples, batch 5 → 4 full batches, 20 distinct samples.
    assert_eq!(l.num_batches(), 4);
    assert_eq!(e0.iter().collect::<HashSet<_>>().len(), 20);
    let mut perm = l.order(3);
    perm.sort();
    assert_eq!(perm, (0..23).collect::<Vec<_>>());
}

#[test]
fn batches_carry_transformed_pixels_and_labels() {
    let t = TempDir::new("ld2");
    let samples = idx_samples(&t, 7);
    let l = Loader::new(samples, LoaderConfig::eval(3), first_pixel).unwrap();
    let batches: Vec<_> = l.epoch(0).map(|b| b.unwrap()).collect();
    assert_eq!(batches.len(), 3, "eval keeps the last partial batch");
    assert_eq!(batches[2].indices, vec![6]);
    for b in &batches {
        assert_eq!(b.images.len(), 2 * b.labels.len());
        for (j, &i) in b.indices.iter().enumerate() {
            assert_eq!(b.images[2 * j], i as f32, "pixel value is the image index");
            assert_eq!(b.labels[j], i % 3);
        }
    }
}

#[test]
fn drop_last_only_when_enough_samples() {
    let t = TempDir::new("ld3");
    let samples = idx_samples(&t, 3);
    let l = Loader::new(samples, LoaderConfig::train(8, 0), first_pixel).unwrap();
    assert_eq!(l.num_batches(), 1, "3 < batch 8: the only batch is kept");
    assert_eq!(epoch_indices(&l, 0).len(), 3);
}

#[test]
fn decode_failures_fail_or_skip() {
    let t = TempDir::new("ld4");
    let mut samples = Vec::new();
    for i in 0..6u8 {
        let p = t.path().join(format!("{i}.png"));
        png(&p, 3, 3, [i * 10, 0, 0]);
        samples.push(Sample {
            image: ImageRef::File(p),
            label: 0,
        });
    }
    let bad = t.path().join("broken.png");
    corrupt(&bad);
    samples.insert(
        2,
        Sample {
            image: ImageRef::File(bad),
            label: 1,
        },
    );
    let strict = Loader::new(samples.clone(), LoaderConfig::eval(4), first_pixel).unwrap();
    let res: Vec<_> = strict.epoch(0).collect();
    let err = res
        .iter()
        .find_map(|r| r.as_ref().err())
        .expect("an error")
        .to_string();
    assert!(err.contains("broken.png"), "{err}");
    let cfg = LoaderConfig {
        skip_decode_errors: true,
        ..LoaderConfig::eval(4)
    };
    let lenient = Loader::new(samples, cfg, first_pixel).unwrap();
    let batches: Vec<_> = lenient.epoch(0).map(|b| b.unwrap()).collect();
    let got: Vec<usize> = batches.iter().flat_map(|b| b.indices.clone()).collect();
    assert_eq!(got, vec![0, 1, 3, 4, 5, 6]);
    assert_eq!(batches[0].skipped.len(), 1);
    assert_eq!(batches[0].skipped[0].0, 2);
    assert_eq!(lenient.skipped(), 1);
    // Pixel check: sample 3 is the file "2.png" with red 20.
    assert_eq!(batches[0].images[2 * 2], 20.0);
}

#[test]
fn dropping_an_epoch_early_stops_the_worker() {
    let t = TempDir::new("ld5");
    let samples = idx_samples(&t, 100);
    let l = Loader::new(
        samples,
        LoaderConfig {
            prefetch: 1,
            ..LoaderConfig::train(2, 0)
        },
        first_pixel,
    )
    .unwrap();
    let mut it = l.epoch(0);
    assert!(it.next().unwrap().is_ok());
    drop(it); // must not hang
    assert_eq!(epoch_indices(&l, 0).len(), 100);
}
