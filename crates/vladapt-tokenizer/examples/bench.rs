//! Rough throughput of loading and tokenizing (prompt-like texts, cold and warm BPE cache).
//!
//! `cargo run --release -p vladapt-tokenizer --example bench`

use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let t0 = Instant::now();
    let tok = vladapt_tokenizer::ClipTokenizer::openai()?;
    println!(
        "load embedded vocab: {:.1} ms",
        t0.elapsed().as_secs_f64() * 1e3
    );
    let words = [
        "dog",
        "aircraft",
        "texture",
        "satellite",
        "person",
        "flower",
        "Boeing 737-800",
        "crème brûlée",
    ];
    let texts: Vec<String> = (0..10_000)
        .map(|i| {
            format!(
                "a photo of a {} number {i}, a type of {}.",
                words[i % 8],
                words[(i / 8) % 8]
            )
        })
        .collect();
    for pass in ["cold", "warm"] {
        let t = Instant::now();
        let mut n = 0usize;
        for s in &texts {
            n += tok.tokenize(s, 77).iter().filter(|&&x| x != 0).count();
        }
        let dt = t.elapsed().as_secs_f64();
        println!(
            "{pass}: {} texts, {n} tokens in {:.1} ms ({:.1} µs/text)",
            texts.len(),
            dt * 1e3,
            dt * 1e6 / texts.len() as f64
        );
    }
    Ok(())
}
