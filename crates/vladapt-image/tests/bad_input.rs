//! Broken and hostile inputs: the right error variant, the file named, no panic.
mod common;

use std::path::{Path, PathBuf};

use common::fixture;
use vladapt_image::{decode_rgb, load_rgb, ImageError, ImageLimits};

fn tmp(name: &str, bytes: &[u8]) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("vladapt-image-bad-input");
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn expect_decode_error(path: &Path) -> String {
    match load_rgb(path, &ImageLimits::default()) {
        Err(e @ ImageError::Decode { .. }) => {
            let msg = e.to_string();
            let file = path.file_name().unwrap().to_str().unwrap();
            assert!(msg.contains(file), "message does not name the file: {msg}");
            msg
        }
        other => panic!("{}: expected Decode error, got {other:?}", path.display()),
    }
}

#[test]
fn empty_file_is_a_decode_error() {
    let msg = expect_decode_error(&tmp("empty.png", b""));
    assert!(msg.contains("empty"), "{msg}");
}

#[test]
fn truncated_png_is_a_decode_error() {
    let full = std::fs::read(fixture("in_rgb_97x131.png")).unwrap();
    for cut in [8, 30, full.len() / 2, full.len() - 13] {
        expect_decode_error(&tmp(&format!("truncated_{cut}.png"), &full[..cut]));
    }
}

#[test]
fn text_renamed_png_is_a_decode_error() {
    expect_decode_error(&tmp("notes.png", b"just some text, not an image\n"));
}

#[test]
fn truncated_jpeg_is_a_decode_error() {
    let full = std::fs::read(fixture("franz-kafka.jpg")).unwrap();
    // Only the SOI marker and the start of APP0: no frame header at all.
    expect_decode_error(&tmp("cut.jpg", &full[..10]));
}

#[test]
fn huge_png_header_fails_fast_with_too_large() {
    // Signature + IHDR chunk for 30000×30000 RGB8 with a zero CRC, and nothing else: the size
    // must be refused from the header alone, before any decoder runs.
    let mut b = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR".to_vec();
    b.extend_from_slice(&30000u32.to_be_bytes());
    b.extend_from_slice(&30000u32.to_be_bytes());
    b.extend_from_slice(&[8, 2, 0, 0, 0]);
    b.extend_from_slice(&[0, 0, 0, 0]);
    let path = tmp("bomb.png", &b);
    let start = std::time::Instant::now();
    match load_rgb(&path, &ImageLimits::default()) {
        Err(ImageError::TooLarge {
            name,
            width,
            height,
            pixels,
            limit,
        }) => {
            assert!(name.ends_with("bomb.png"), "{name}");
            assert_eq!((width, height, pixels), (30000, 30000, 900_000_000));
            assert_eq!(limit, 178_956_970);
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
    assert!(start.elapsed().as_secs_f64() < 1.0);
}

#[test]
fn limits_apply_to_every_format_before_decoding() {
    let tiny = ImageLimits { max_pixels: 800 };
    // 37×23 = 851 pixels > 800 for each container; the Kafka JPEG is 450×655.
    for name in [
        "in_rgb_37x23.png",
        "in_rgb.bmp",
        "in_rgb.webp",
        "in_two_frames.gif",
        "franz-kafka.jpg",
    ] {
        let bytes = std::fs::read(fixture(name)).unwrap();
        match decode_rgb(&bytes, name, &tiny) {
            Err(ImageError::TooLarge {
                name: n, pixels, ..
            }) => {
                assert_eq!(n, name);
                assert!(pixels == 851 || pixels == 450 * 655, "{name}: {pixels}");
            }
            other => panic!("{name}: expected TooLarge, got {other:?}"),
        }
    }
    // Exactly at the limit is accepted.
    let at = ImageLimits { max_pixels: 851 };
    let bytes = std::fs::read(fixture("in_rgb_37x23.png")).unwrap();
    assert_eq!(decode_rgb(&bytes, "x", &at).unwrap().dimensions(), (37, 23));
}

#[test]
fn missing_file_is_an_io_error_naming_it() {
    let p = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("does-not-exist.jpg");
    match load_rgb(&p, &ImageLimits::default()) {
        Err(e @ ImageError::Io { .. }) => assert!(e.to_string().contains("does-not-exist.jpg")),
        other => panic!("expected Io, got {other:?}"),
    }
}

#[test]
fn random_garbage_never_panics() {
    // Valid headers followed by pseudo-random bytes: must return (Ok or Err), never panic.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 24) as u8
    };
    for name in [
        "in_rgb_37x23.png",
        "franz-kafka.jpg",
        "in_rgb.webp",
        "in_two_frames.gif",
        "in_rgb.bmp",
    ] {
        let good = std::fs::read(fixture(name)).unwrap();
        for keep in [16usize, 64, 200] {
            let mut b = good[..keep.min(good.len())].to_vec();
            b.extend((0..300).map(|_| next()));
            let _ = decode_rgb(&b, name, &ImageLimits::default());
        }
    }
}
