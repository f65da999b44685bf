//! The restricted unpickler on hand-assembled hostile streams: each ends in an error (no panic,
//! no stack overflow, no unbounded memory), and on random corruptions of a real `data.pkl`.

use std::io::Read;

use rand::{Rng, SeedableRng};
use vladapt_data::pickle::{unpickle, Allowlist, Object, PickleError};

const PROTO2: &[u8] = b"\x80\x02";

fn run(body: &[u8]) -> Result<Object, PickleError> {
    let mut b = PROTO2.to_vec();
    b.extend_from_slice(body);
    unpickle(&b, Allowlist::Torch)
}

#[test]
fn forbidden_globals_are_named_before_any_call() {
    for (body, want) in [
        (&b"cos\nsystem\n)R."[..], "os.system"),
        (b"c__builtin__\neval\n)R.", "builtins.eval"),
        (
            b"X\x08\x00\x00\x00builtinsX\x04\x00\x00\x00execX\x00\x00\x00\x00\x93.",
            "",
        ),
        (b"csubprocess\nPopen\n)\x81.", "subprocess.Popen"),
        (b"ctorch\nload\n.", "torch.load"),
        (
            b"ctorch._utils\n_rebuild_x;y\n.",
            "torch._utils._rebuild_x;y",
        ),
        (
            b"cnumpy.core.multiarray\n_reconstruct\n.",
            "numpy.core.multiarray._reconstruct",
        ),
    ] {
        match run(body) {
            Err(PickleError::ForbiddenGlobal { module, name, .. }) => {
                if !want.is_empty() {
                    assert_eq!(format!("{module}.{name}"), want);
                }
            }
            // STACK_GLOBAL with a malformed pair may also be refused structurally.
            Err(PickleError::Malformed { .. }) if want.is_empty() => {}
            other => panic!("{want}: {other:?}"),
        }
    }
    // The NumPy allowlist refuses torch's globals and vice versa.
    let b = b"\x80\x02ctorch._utils\n_rebuild_tensor_v2\n.";
    assert!(matches!(
        unpickle(b, Allowlist::NumPy),
        Err(PickleError::ForbiddenGlobal { .. })
    ));
}

#[test]
fn refused_opcodes() {
    for (body, op) in [
        (&b"\x82\x01."[..], 0x82u8), // EXT1
        (b"(imod\nname\n.", b'i'),   // INST
        (b"(o.", b'o'),              // OBJ
        (b"\x97.", 0x97),            // NEXT_BUFFER
        (b"\xff.", 0xff),            // unknown
    ] {
        match run(body) {
            Err(PickleError::Opcode { opcode, .. }) => assert_eq!(opcode, op),
            other => panic!("{op:#x}: {other:?}"),
        }
    }
}

#[test]
fn structural_errors() {
    let cases: &[&[u8]] = &[
        b"0.",                         // POP on empty stack
        b"h\x05.",                     // memo entry missing
        b"K\x01K\x02.",                // STOP with leftovers
        b"(K\x01s.",                   // SETITEM under a MARK
        b"}(K\x01u.",                  // odd SETITEMS
        b"K\x01a.",                    // APPEND to an int
        b"K\x01)b.",                   // BUILD on an int
        b"K\x01)R.",                   // call of a non-global
        b"(.",                         // STOP on a MARK
        b"(2.",                        // DUP on a MARK
        b"X\x02\x00\x00\x00\xff\xfe.", // invalid UTF-8
        b"}]K\x01s.",                  // unhashable key
    ];
    for body in cases {
        match run(body) {
            Err(PickleError::Malformed { .. }) => {}
            other => panic!("{body:?}: {other:?}"),
        }
    }
}

#[test]
fn truncations_and_huge_lengths() {
    for body in [
        &b"X\xff\xff\xff\x7f"[..],               // BINUNICODE of 2 GiB
        b"\x8d\xff\xff\xff\xff\xff\xff\xff\xff", // BINUNICODE8 of 2^64-1
        b"\x8b\xff\xff\xff\x7fab",               // LONG4 of 2 GiB
        b"\x8e\x00\x00\x00\x00\x00\x00\x00\x01", // BINBYTES8 of 2^56
        b"K",                                    // BININT1 without its byte
        b"K\x01",                                // no STOP
        b"cos\nsys",                             // GLOBAL without newline
    ] {
        match run(body) {
            Err(PickleError::Truncated { .. }) => {}
            other => panic!("{body:?}: {other:?}"),
        }
    }
}

#[test]
fn a_reference_cycle_is_an_error_and_does_not_leak_or_overflow() {
    // l = []; l.append(l)
    let r = run(b"]q\x00h\x00a.");
    assert!(matches!(r, Err(PickleError::Malformed { .. })), "{r:?}");
}

#[test]
fn an_expansion_bomb_is_refused() {
    // a0 = []; a_{i+1} = [(a_i, a_i)] for 60 levels: 2^60 nodes if expanded.
    // Per level: PUT 0, POP, EMPTY_LIST, GET 0, GET 0, TUPLE2, APPEND.
    let mut body = b"]".to_vec();
    for _ in 0..60 {
        body.extend_from_slice(b"q\x000]h\x00h\x00\x86a");
    }
    body.push(b'.');
    let r = run(&body);
    assert!(
        matches!(r, Err(PickleError::Malformed { .. })),
        "{:?}",
        r.map(|_| ())
    );
}

#[test]
fn deep_nesting_is_refused_without_stack_overflow() {
    // 1,000,000 nested tuples: ) then TUPLE1 repeated.
    let mut body = b")".to_vec();
    body.extend(std::iter::repeat_n(0x85u8, 1_000_000));
    body.push(b'.');
    assert!(matches!(run(&body), Err(PickleError::Malformed { .. })));
    // 1,000,000 nested lists: l_{i+1} = [l_i] (PUT 0, POP, EMPTY_LIST, GET 0, APPEND).
    let mut body = b"]".to_vec();
    for _ in 0..1_000_000 {
        body.extend_from_slice(b"q\x000]h\x00a");
    }
    body.push(b'.');
    assert!(matches!(run(&body), Err(PickleError::Malformed { .. })));
    // The same through 1,000,000 MARKs and LIST opcodes.
    let mut body = vec![b'('; 1_000_000];
    body.push(b']');
    body.extend(std::iter::repeat_n(b'l', 1_000_000));
    body.push(b'.');
    assert!(matches!(run(&body), Err(PickleError::Malformed { .. })));
}

#[test]
fn random_corruptions_of_a_real_data_pkl_never_panic() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/pth/transvg.pth");
    let mut zip = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut pkl = Vec::new();
    zip.by_name("transvg/data.pkl")
        .unwrap()
        .read_to_end(&mut pkl)
        .unwrap();
    assert!(unpickle(&pkl, Allowlist::Torch).is_ok());
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
    let mut errors = 0;
    for _ in 0..3000 {
        let mut b = pkl.clone();
        for _ in 0..rng.random_range(1..4) {
            let i = rng.random_range(0..b.len());
            b[i] = rng.random();
        }
        if rng.random_bool(0.3) {
            b.truncate(rng.random_range(0..b.len()));
        }
        errors += unpickle(&b, Allowlist::Torch).is_err() as usize;
    }
    assert!(errors > 1000, "most corruptions are detected ({errors})");
}
