//! Fuzzing on stable Rust of the checkpoint readers and the tokenizer: mutated safetensors
//! files, mutated `config.json` / `open_clip_config.json`, arbitrary UTF-8 and bytes through the
//! tokenizer, mutated `adapter_config.json` loaded onto the tiny model with its adapter (seeds in
//! `fixtures/fuzz/adapter_config/`). Property: never a panic; errors name the file. Deterministic; bounded by
//! `VLADAPT_FUZZ_ITERS` (default 1000 per target). Long run:
//! `VLADAPT_FUZZ_ITERS=300000 cargo test --release -p vladapt --test fuzz_inputs`.
mod common;
use common::fixtures;
use vladapt::models::clip::ClipConfig;
use vladapt::tensor_io::SafetensorsFile;
use vladapt::train::run_dir::{load_adapter, AdapterConfig};
use vladapt_testkit::fuzz::{self, Mutations, Rng};
use vladapt_tokenizer::ClipTokenizer;

/// Mutations that favour the first `head` bytes (the safetensors header, a JSON config).
fn mutate(seed: &[u8], rng: &mut Rng, head: usize) -> Vec<u8> {
    let m = Mutations {
        bytes: b"09-\"{]\xFF",
        tokens: &[],
        head,
    };
    fuzz::mutate(seed, rng, &m)
}

/// Run `f` on `VLADAPT_FUZZ_ITERS` (default 1000) iterations; fail on any panic.
fn run(target: &str, f: impl Fn(usize, &mut Rng)) {
    fuzz::run(target, 0xD1B5_4A32_D192_ED03, fuzz::iterations(1000), f)
}

#[test]
fn mutated_safetensors_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    let seed =
        std::fs::read(fixtures().join("models/tiny-openclip/open_clip_model.safetensors")).unwrap();
    // The JSON header (first 8 bytes = its length) is where parsers break.
    let head = 8 + u64::from_le_bytes(seed[..8].try_into().unwrap()) as usize;
    run("safetensors", |it, rng| {
        let p = dir.path().join(format!("w{}.safetensors", it % 4));
        std::fs::write(&p, mutate(&seed, rng, head + 8)).unwrap();
        match SafetensorsFile::open(&p) {
            Err(e) => assert!(e.to_string().contains("safetensors"), "{e}"),
            Ok(f) => {
                if let Ok(names) = f.names() {
                    for n in names.iter().take(8) {
                        if let Err(e) = f.read_f32(n) {
                            assert!(e.to_string().contains("safetensors"), "{e}");
                        }
                    }
                }
            }
        }
    });
}

#[test]
fn mutated_configs_never_panic_and_errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let oc = std::fs::read(fixtures().join("models/tiny-openclip/open_clip_config.json")).unwrap();
    let hf = std::fs::read(fixtures().join("models/tiny-hf/config.json")).unwrap();
    run("configs", |it, rng| {
        let (seed, name, parse): (&[u8], &str, fn(&std::path::Path) -> _) = if it % 2 == 0 {
            (
                &oc,
                "open_clip_config.json",
                ClipConfig::from_open_clip_json,
            )
        } else {
            (&hf, "config.json", ClipConfig::from_hf_json)
        };
        let p = dir.path().join(name);
        std::fs::write(&p, mutate(seed, rng, seed.len())).unwrap();
        if let Err(e) = parse(&p) {
            assert!(e.to_string().contains(name), "{e}");
        }
    });
}

#[test]
fn arbitrary_text_never_panics_the_tokenizer() {
    let tok = ClipTokenizer::openai().unwrap();
    let samples = ["a photo of a cat.", "東京の猫 🐱", "&amp;&lt; x", "  \t\n"];
    run("tokenizer", |it, rng| {
        let text: String = if it % 2 == 0 {
            // Arbitrary bytes, decoded lossily (what a file of any encoding becomes).
            let bytes: Vec<u8> = (0..rng.below(200)).map(|_| rng.next_u64() as u8).collect();
            String::from_utf8_lossy(&bytes).into_owned()
        } else {
            // Arbitrary code points mixed into real text.
            let mut s = samples[it % samples.len()].to_string();
            for _ in 0..rng.below(30) {
                if let Some(c) = char::from_u32((rng.next_u64() % 0x11_0000) as u32) {
                    s.push(c);
                }
            }
            s
        };
        let ids = tok.tokenize_batch(&[text.as_str()], 77);
        assert_eq!(ids[0].len(), 77);
    });
}

#[test]
fn mutated_adapter_configs_never_panic_and_errors_name_the_file() {
    let seeds = fixtures().join("fuzz/adapter_config");
    let seed = std::fs::read(seeds.join("adapter_config.json")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        seeds.join("adapter.safetensors"),
        dir.path().join("adapter.safetensors"),
    )
    .unwrap();
    let device = vladapt::device::default_device();
    let pipe =
        vladapt::models::clip::ClipPipeline::load(&fixtures().join("models/tiny-hf"), &device)
            .unwrap();
    // The unmutated seed loads onto the model it was trained on.
    std::fs::write(dir.path().join("adapter_config.json"), &seed).unwrap();
    load_adapter(dir.path(), &pipe).unwrap();
    run("adapter_config", |it, rng| {
        std::fs::write(
            dir.path().join("adapter_config.json"),
            mutate(&seed, rng, seed.len()),
        )
        .unwrap();
        match AdapterConfig::load(dir.path()) {
            Err(e) => assert!(e.to_string().contains("adapter_config.json"), "{e}"),
            // Every 8th accepted mutant is also built onto the model (method, classes, weights):
            // it may be refused, but must not panic.
            Ok(_) if it % 8 == 0 => {
                let _ = load_adapter(dir.path(), &pipe);
            }
            Ok(_) => {}
        }
    });
}
