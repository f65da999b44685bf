//! The minimal pickle reader against arrays pickled by NumPy (tools/make_pickle_fixtures.py).
use std::io::Read;

use vladapt_data::pickle::parse_numpy_pickle;

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name),
    )
    .unwrap()
}

#[test]
fn uint8_images_protocol4_gzip() {
    let mut raw = Vec::new();
    flate2::read::GzDecoder::new(&fixture("images_u1.pkl.gz")[..])
        .read_to_end(&mut raw)
        .unwrap();
    let a = parse_numpy_pickle(&raw).unwrap();
    assert_eq!(a.shape, vec![3, 4, 5]);
    assert_eq!(a.dtype, "u1");
    for i in 0..3 {
        for r in 0..4 {
            for c in 0..5 {
                assert_eq!(
                    a.data[i * 20 + r * 5 + c] as usize,
                    (i * 20 + r * 5 + c) * 7 % 256
                );
            }
        }
    }
}

#[test]
fn int64_labels_protocols_4_and_2() {
    for f in ["labels_i8.pkl", "labels_i8_p2.pkl"] {
        let a = parse_numpy_pickle(&fixture(f)).unwrap();
        assert_eq!(a.shape, vec![5], "{f}");
        assert_eq!(a.to_i64().unwrap(), vec![0, 9, -3, 1234567890123, 4], "{f}");
    }
    assert!(parse_numpy_pickle(b"\x80\x04K\x01.").is_err());
    assert!(parse_numpy_pickle(b"\x80\x04").is_err());
}
