//! `vladapt convert` end to end on files written by real `torch.save` (fixtures/pth).
mod common;

use common::*;

#[test]
fn converts_a_transvg_checkpoint_and_says_where_the_weights_came_from() {
    let dir = TempDir::new("convert");
    let out = dir.path().join("transvg.safetensors");
    let o = vladapt(&[
        "convert",
        fixtures().join("pth/transvg.pth").to_str().unwrap(),
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.contains("weights taken from \"model\""), "{text}");
    assert!(
        text.contains("optimizer") && text.contains("args"),
        "{text}"
    );
    let expected = std::fs::read(fixtures().join("pth/transvg.safetensors")).unwrap();
    assert!(
        std::fs::read(&out).unwrap() == expected,
        "output differs from Python's safetensors"
    );
}

#[test]
fn a_malicious_pickle_is_refused_in_one_line_naming_the_global() {
    let dir = TempDir::new("convert-evil");
    let out = dir.path().join("o.safetensors");
    let o = vladapt(&[
        "convert",
        fixtures().join("pth/evil_system.pth").to_str().unwrap(),
        out.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(
        err.contains("forbidden global posix.system") || err.contains("forbidden global os.system"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    assert!(!out.exists());
}
