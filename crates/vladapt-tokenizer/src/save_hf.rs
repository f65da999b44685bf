//! Writing HF `CLIPTokenizer` files.

use std::path::Path;

use serde_json::json;

use crate::error::TokenizerError;
use crate::tokenizer::ClipTokenizer;

fn write(path: &Path, content: &str) -> Result<(), TokenizerError> {
    std::fs::write(path, content).map_err(|source| TokenizerError::Write {
        path: path.to_path_buf(),
        source,
    })
}

fn to_json(path: &Path, v: &serde_json::Value) -> Result<String, TokenizerError> {
    serde_json::to_string_pretty(v).map_err(|source| TokenizerError::Json {
        path: path.to_path_buf(),
        source,
    })
}

impl ClipTokenizer {
    /// Write `vocab.json`, `merges.txt`, `tokenizer_config.json` and `special_tokens_map.json` into
    /// `dir` (created if needed), loadable by `transformers.CLIPTokenizer.from_pretrained(dir)`.
    ///
    /// HF pads with `<|endoftext|>` where open_clip pads with 0; the unpadded ids agree.
    pub fn save_hf(&self, dir: &Path) -> Result<(), TokenizerError> {
        std::fs::create_dir_all(dir).map_err(|source| TokenizerError::Write {
            path: dir.to_path_buf(),
            source,
        })?;
        let mut entries: Vec<(&String, &u32)> = self.encoder.iter().collect();
        entries.sort_by_key(|&(_, id)| *id);
        let vocab_path = dir.join("vocab.json");
        let mut vocab = String::with_capacity(entries.len() * 16);
        vocab.push('{');
        for (i, (tok, id)) in entries.iter().enumerate() {
            if i > 0 {
                vocab.push(',');
            }
            vocab.push_str(&to_json(&vocab_path, &json!(tok))?);
            vocab.push(':');
            vocab.push_str(&id.to_string());
        }
        vocab.push('}');
        write(&vocab_path, &vocab)?;

        let mut merges = String::from("#version: 0.2\n");
        for (a, b) in &self.merges {
            merges.push_str(a);
            merges.push(' ');
            merges.push_str(b);
            merges.push('\n');
        }
        write(&dir.join("merges.txt"), &merges)?;

        let (sot, eot) = (&self.sot.0, &self.eot.0);
        let specials = json!({
            "bos_token": sot, "eos_token": eot, "unk_token": eot, "pad_token": eot,
        });
        let p = dir.join("special_tokens_map.json");
        write(&p, &to_json(&p, &specials)?)?;
        let config = json!({
            "tokenizer_class": "CLIPTokenizer",
            "bos_token": sot, "eos_token": eot, "unk_token": eot, "pad_token": eot,
            "model_max_length": 77,
            "do_lower_case": true,
            "errors": "replace",
            "add_prefix_space": false,
            "clean_up_tokenization_spaces": false,
        });
        let p = dir.join("tokenizer_config.json");
        write(&p, &to_json(&p, &config)?)
    }
}
