//! CLIP byte-level BPE tokenizer and BERT WordPiece tokenizer ([`WordPiece`]) in pure Rust.
//!
//! Gives the same ids as OpenAI CLIP / open_clip `SimpleTokenizer` (and HF `CLIPTokenizer` with
//! ftfy installed) for ordinary text: clean-up (`ftfy.fix_text` subset, `html.unescape` twice,
//! whitespace collapse, lowercase), the CLIP split regex, byte-level BPE with a word cache.
//!
//! Known differences from the Python reference, all outside ordinary text:
//! * ftfy's mojibake repair is not implemented (see [`ftfy`]);
//! * named HTML entities cover the HTML 4.01 set plus `apos` and the legacy no-semicolon names
//!   (see the `html` module), not the full HTML5 table;
//! * a too-long text is truncated with EOT last (open_clip) instead of raising (OpenAI CLIP);
//! * the literal strings `<|startoftext|>` / `<|endoftext|>` in a text map to the special ids as in
//!   OpenAI CLIP (open_clip 3.x spells them `<start_of_text>` / `<end_of_text>`).
//!
//! ```
//! let tok = vladapt_tokenizer::ClipTokenizer::openai().unwrap();
//! let ids = tok.tokenize("a photo of a dog.", 77);
//! assert_eq!(&ids[..7], &[49406, 320, 1125, 539, 320, 1929, 269]);
//! assert_eq!(ids[7], 49407);
//! ```

mod bytes;
pub mod clean;
mod error;
pub mod ftfy;
mod html;
mod load;
mod save_hf;
mod tokenizer;
pub mod wordpiece;

pub use clean::clean_text;
pub use error::TokenizerError;
pub use load::{TokenizerSource, CLIP_NUM_MERGES};
pub use tokenizer::ClipTokenizer;
pub use wordpiece::{Encoding, WordPiece};

/// Context length of every CLIP text encoder.
pub const CONTEXT_LENGTH: usize = 77;
