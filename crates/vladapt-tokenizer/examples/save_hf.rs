//! Write the embedded OpenAI vocabulary as HF `CLIPTokenizer` files.
//!
//! `cargo run --release -p vladapt-tokenizer --example save_hf -- OUT_DIR`, then check with
//! `python3 tools/tokenizer/make_tokenizer_fixtures.py --check-hf OUT_DIR`.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = PathBuf::from(std::env::args().nth(1).ok_or("usage: save_hf OUT_DIR")?);
    let tok = vladapt_tokenizer::ClipTokenizer::openai()?;
    tok.save_hf(&dir)?;
    println!("wrote HF tokenizer files to {}", dir.display());
    Ok(())
}
