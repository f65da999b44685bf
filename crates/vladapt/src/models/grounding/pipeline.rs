//! A grounding model directory and single-image prediction: `grounding_config.json`
//! ([`GroundingConfig`]), `model.safetensors` (official TransVG naming, [`Layout::TransVg`]) and
//! `vocab.txt` (BERT WordPiece).
use super::config::GroundingConfig;
use super::preprocess::{prepare, Letterbox};
use super::transvg::{GroundingBatch, TransVg};
use super::weights::{Layout, Weights};
use crate::tensor_io::{save_safetensors_atomic, to_vec_f32, write_atomic};
use crate::{Result, VladaptError};
use burn::tensor::{Device, Tensor, TensorData};
use std::path::Path;
use vladapt_data::grounding::BoxXyxy;
use vladapt_image::RgbImage;
use vladapt_tokenizer::wordpiece::WordPiece;

/// Config file name in a model directory.
pub const CONFIG_FILE: &str = "grounding_config.json";
/// Weights file name in a model directory.
pub const WEIGHTS_FILE: &str = "model.safetensors";
/// Vocabulary file name in a model directory.
pub const VOCAB_FILE: &str = "vocab.txt";

/// A loaded model with its tokenizer.
pub struct GroundingPipeline {
    /// The model.
    pub model: TransVg,
    /// WordPiece tokenizer.
    pub tokenizer: WordPiece,
    /// Device.
    pub device: Device,
}

/// One prediction.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    /// The box in original-image pixels, corners `[x1, y1, x2, y2]`.
    pub box_pixels: BoxXyxy,
    /// The raw model output: normalised `(cx, cy, w, h)` on the padded canvas.
    pub box_canvas: [f32; 4],
    /// Where the image sat on the canvas.
    pub letterbox: Letterbox,
    /// The expression had more word pieces than `max_query_len − 2` and was cut (as BERT does).
    pub truncated: bool,
    /// Word pieces kept (without `[CLS]`/`[SEP]`).
    pub pieces: usize,
}

impl GroundingPipeline {
    /// Load a model directory; every tensor is shape-checked and unexpected tensors are an error.
    pub fn load(dir: &Path, device: &Device) -> Result<Self> {
        let need = |f: &str| {
            let p = dir.join(f);
            if p.is_file() {
                Ok(p)
            } else {
                Err(VladaptError::NotAModel {
                    kind: "grounding",
                    dir: dir.to_path_buf(),
                    reason: format!(
                        "{f} is missing (expected {CONFIG_FILE}, {WEIGHTS_FILE}, {VOCAB_FILE})"
                    ),
                })
            }
        };
        let config = GroundingConfig::from_json_file(&need(CONFIG_FILE)?)?;
        let vocab = need(VOCAB_FILE)?;
        let tokenizer = WordPiece::from_vocab_file(&vocab, config.lowercase)?;
        if tokenizer.vocab_size() > config.bert.vocab_size {
            return Err(VladaptError::config(
                &vocab,
                format!(
                    "{} tokens but the model's bert.vocab_size is {}",
                    tokenizer.vocab_size(),
                    config.bert.vocab_size
                ),
            ));
        }
        let weights = Weights::open(&need(WEIGHTS_FILE)?, Layout::TransVg)?;
        let model = TransVg::load(&weights.root(), &config, device)?;
        weights.ensure_all_used()?;
        Ok(Self {
            model,
            tokenizer,
            device: device.clone(),
        })
    }

    /// Ground `text` in `img`. An empty (or whitespace / unknown-character only) expression is an
    /// error; a long one is truncated to `max_query_len − 2` pieces and flagged.
    pub fn predict(&self, img: &RgbImage, text: &str) -> Result<Prediction> {
        let one = SingleInput::new(&self.model.config, &self.tokenizer, img, text, &self.device)?;
        let out = to_vec_f32(&self.model.forward(&one.batch)?);
        Ok(one.prediction(&out))
    }
}

/// One (image, expression) pair as a batch of one, with what maps the model output back to
/// image pixels — shared by [`GroundingPipeline::predict`] and the methods' single-image
/// prediction (MMCA needs its adapters around the same forward).
pub struct SingleInput {
    /// The batch of one: image `[1, 3, S, S]`, pixel mask, ids and text mask.
    pub batch: GroundingBatch,
    letterbox: Letterbox,
    truncated: bool,
    pieces: usize,
}

impl SingleInput {
    /// Letterbox `img` onto the canvas of `cfg` and encode `text` (errors on an expression
    /// without word pieces).
    pub fn new(
        cfg: &GroundingConfig,
        tokenizer: &WordPiece,
        img: &RgbImage,
        text: &str,
        device: &Device,
    ) -> Result<Self> {
        if tokenizer.piece_ids(text).is_empty() {
            return Err(VladaptError::argument(
                "--text",
                format!("the expression {text:?} has no word pieces (empty)"),
            ));
        }
        let enc = tokenizer.encode(text, cfg.max_query_len);
        let canvas = cfg.image_size as u32;
        let p = prepare(img, canvas)?;
        let s = cfg.image_size;
        let batch = GroundingBatch {
            images: Tensor::from_data(TensorData::new(p.pixels, [1, 3, s, s]), device),
            pixel_mask: p.mask,
            ids: enc.ids.clone(),
            text_mask: enc.attention_mask.clone(),
        };
        Ok(Self {
            batch,
            letterbox: p.letterbox,
            truncated: enc.truncated,
            pieces: enc.len_unpadded() - 2,
        })
    }

    /// The prediction from the model output `out` (the box of the batch of one, normalised
    /// `(cx, cy, w, h)` on the canvas).
    pub fn prediction(&self, out: &[f32]) -> Prediction {
        let b = [out[0], out[1], out[2], out[3]];
        Prediction {
            box_pixels: self.letterbox.box_from_canvas(b),
            box_canvas: b,
            letterbox: self.letterbox,
            truncated: self.truncated,
            pieces: self.pieces,
        }
    }
}

/// Write a model directory with seeded random weights for `config` (the `tiny` demo, tests and
/// benchmarks): config, official-naming safetensors and `vocab` (default: the bundled
/// bert-base-uncased vocabulary) as `vocab.txt`.
pub fn write_random_model(
    dir: &Path,
    config: &GroundingConfig,
    vocab: Option<&WordPiece>,
    seed: u64,
) -> Result<()> {
    config.validate(Path::new("<config>"))?;
    let bundled;
    let vocab = match vocab {
        Some(v) => v,
        None => {
            bundled = WordPiece::bert_base_uncased();
            &bundled
        }
    };
    if vocab.vocab_size() > config.bert.vocab_size {
        return Err(VladaptError::config_value(
            "bert.vocab_size",
            config.bert.vocab_size,
            format!(
                "at least the {} tokens of the vocabulary",
                vocab.vocab_size()
            ),
        ));
    }
    let device = Device::flex();
    let w = Weights::random(seed);
    TransVg::load(&w.root(), config, &device)?;
    save_safetensors_atomic(&dir.join(WEIGHTS_FILE), &w.into_tensors(), None)?;
    let json = serde_json::to_string_pretty(config)
        .map_err(|e| VladaptError::serialize(CONFIG_FILE, e))?;
    write_atomic(&dir.join(CONFIG_FILE), json.as_bytes())?;
    let mut text = String::new();
    for id in 0..vocab.vocab_size() as i64 {
        text.push_str(vocab.token(id).unwrap_or("[unused]"));
        text.push('\n');
    }
    write_atomic(&dir.join(VOCAB_FILE), text.as_bytes())
}
