//! The CLIP text tower (OpenAI CLIP §2.4): token + position embeddings, pre-LN causal
//! transformer, final LayerNorm, pooling at the end-of-text token, projection.
use super::config::TextConfig;
use super::hooks::TowerHook;
use super::layers::{causal_mask, BlockDims, LayerNorm, ResidualBlock};
use crate::models::keymap::View;
use crate::{Result, VladaptError};
use burn::tensor::{Device, Int, Tensor, TensorData};

/// The text tower.
#[derive(Debug, Clone)]
pub struct TextTower {
    /// `[vocab, width]`.
    pub token_embedding: Tensor<2>,
    /// `[context, width]`.
    pub position_embedding: Tensor<2>,
    /// Residual blocks.
    pub blocks: Vec<ResidualBlock>,
    /// Final LayerNorm.
    pub ln_final: LayerNorm,
    /// `[width, projection_dim]` (`x @ text_projection`).
    pub projection: Tensor<2>,
    /// Dimensions.
    pub config: TextConfig,
}

impl TextTower {
    /// Load from `v` in the canonical (OpenAI/OpenCLIP) naming: `token_embedding.weight`,
    /// `positional_embedding`, `transformer.resblocks.{i}`, `ln_final`, `text_projection`
    /// (`[d, proj]`, or a Hugging Face `text_projection.weight` `[proj, d]`).
    pub fn load(v: &View<'_>, cfg: &TextConfig, proj_dim: usize, device: &Device) -> Result<Self> {
        let d = cfg.width;
        let dims = BlockDims::new(d, cfg.intermediate, cfg.heads, cfg.activation, cfg.eps);
        let blocks = v.pp("transformer").pp("resblocks");
        let blocks = (0..cfg.layers)
            .map(|i| ResidualBlock::load(&blocks.pp(i), dims, device))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            token_embedding: v.pp("token_embedding").tensor(
                "weight",
                [cfg.vocab_size, d],
                device,
            )?,
            position_embedding: v.tensor(
                "positional_embedding",
                [cfg.context_length, d],
                device,
            )?,
            blocks,
            ln_final: v.layer_norm("ln_final", d, cfg.eps, device)?,
            projection: v.projection("text_projection", d, proj_dim, device)?,
            config: cfg.clone(),
        })
    }

    /// Token embeddings of `ids` (`[N, T]` rows of equal length) → `[N, T, width]`.
    pub fn embed_ids(&self, ids: &[Vec<u32>]) -> Result<Tensor<3>> {
        let n = ids.len();
        let t = ids.first().map(|r| r.len()).unwrap_or(0);
        let mut flat = Vec::with_capacity(n * t);
        for row in ids {
            if row.len() != t {
                return Err(VladaptError::Shape {
                    what: "token rows".into(),
                    expected: format!("rows of equal length ({t}, the first row's)"),
                    actual: format!("a row of length {}", row.len()),
                });
            }
            for &id in row {
                if id as usize >= self.config.vocab_size {
                    return Err(VladaptError::argument(
                        "token ids",
                        format!(
                            "token id {id} is outside the vocabulary of size {}",
                            self.config.vocab_size
                        ),
                    ));
                }
                flat.push(id as i64);
            }
        }
        let device = self.token_embedding.device();
        let idx: Tensor<1, Int> = Tensor::from_data(TensorData::new(flat, [n * t]), &device);
        Ok(self
            .token_embedding
            .clone()
            .select(0, idx)
            .reshape([n, t, self.config.width]))
    }

    /// Add positional embeddings to `[N, T, width]` input embeddings (T ≤ context length).
    pub fn add_positions(&self, embeds: Tensor<3>) -> Tensor<3> {
        let t = embeds.dims()[1];
        embeds
            + self
                .position_embedding
                .clone()
                .narrow(0, 0, t)
                .unsqueeze::<3>()
    }

    /// Run blocks `range` on the residual stream `[N, T, width]` with the causal mask.
    pub fn run_blocks(
        &self,
        x: Tensor<3>,
        range: std::ops::Range<usize>,
        hook: &dyn TowerHook,
    ) -> Tensor<3> {
        let t = x.dims()[1];
        let mask = causal_mask(t, &x.device());
        let mut x = x;
        for i in range {
            x = self.blocks[i].forward(i, x, Some(&mask), hook);
        }
        x
    }

    /// Final LayerNorm, take the row at each sequence's EOT position, project → `[N, proj]`.
    pub fn pool(&self, x: Tensor<3>, eot: &[usize]) -> Tensor<2> {
        let [n, t, d] = x.dims();
        let x = self.ln_final.forward(x);
        let rows: Vec<i64> = eot
            .iter()
            .enumerate()
            .map(|(i, &e)| (i * t + e) as i64)
            .collect();
        let idx: Tensor<1, Int> = Tensor::from_data(TensorData::new(rows, [n]), &x.device());
        x.reshape([n * t, d])
            .select(0, idx)
            .matmul(self.projection.clone())
    }

    /// Full forward from input embeddings `[N, T, width]` (no positions yet) with the EOT
    /// position of each row. Returns unnormalised projected features `[N, proj]`.
    pub fn forward_embeds(
        &self,
        embeds: Tensor<3>,
        eot: &[usize],
        hook: &dyn TowerHook,
    ) -> Tensor<2> {
        let x = self.add_positions(embeds);
        let x = self.run_blocks(x, 0..self.blocks.len(), hook);
        self.pool(x, eot)
    }

    /// Encode tokenized text (`[N, context]` ids with EOT = the largest id, as CLIP's tokenizer
    /// writes). Sequences are cut to `max(EOT)+1` tokens: with the causal mask, later tokens never
    /// reach the EOT output (methods.md §6.12). Returns unnormalised features `[N, proj]`.
    pub fn encode_ids(&self, ids: &[Vec<u32>], hook: &dyn TowerHook) -> Result<Tensor<2>> {
        if ids.is_empty() {
            return Err(VladaptError::argument("token ids", "no text to encode"));
        }
        let eot = eot_positions(ids);
        let keep = eot.iter().copied().max().unwrap_or(0) + 1;
        if ids[0].len() > self.config.context_length {
            return Err(VladaptError::Shape {
                what: "token rows".into(),
                expected: format!(
                    "[N, ≤ {}] (at most the context length)",
                    self.config.context_length
                ),
                actual: format!("[{}, {}]", ids.len(), ids[0].len()),
            });
        }
        let cut: Vec<Vec<u32>> = ids
            .iter()
            .map(|r| r[..keep.min(r.len())].to_vec())
            .collect();
        let embeds = self.embed_ids(&cut)?;
        Ok(self.forward_embeds(embeds, &eot, hook))
    }
}

/// EOT position of each row: the argmax of the ids (first occurrence), as CLIP does.
pub fn eot_positions(ids: &[Vec<u32>]) -> Vec<usize> {
    ids.iter()
        .map(|r| {
            let mut best = 0;
            for (i, &v) in r.iter().enumerate() {
                if v > r[best] {
                    best = i;
                }
            }
            best
        })
        .collect()
}
