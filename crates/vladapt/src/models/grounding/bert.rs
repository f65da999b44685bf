//! BERT encoder (post-LN, erf GELU, LayerNorm eps 1e-12, extended attention mask, token type 0;
//! spec §1.3). Names as `BertModel`: `embeddings.{word,position,token_type}_embeddings`,
//! `embeddings.LayerNorm`, `encoder.layer.N.attention.{self.{query,key,value},output.{dense,LayerNorm}}`,
//! `encoder.layer.N.{intermediate.dense,output.dense,output.LayerNorm}`.
use super::config::BertConfig;
use super::layers::MultiHeadAttention;
use super::weights::View;
use crate::models::clip::layers::{LayerNorm, Linear};
use crate::{Result, VladaptError};
use burn::tensor::activation::gelu;
use burn::tensor::{Device, Int, Tensor, TensorData};

/// One post-LN BERT layer.
#[derive(Debug, Clone)]
pub struct BertLayer {
    /// Self-attention (query/key/value/output dense).
    pub attn: MultiHeadAttention,
    /// `attention.output.LayerNorm`.
    pub attn_ln: LayerNorm,
    /// `intermediate.dense`.
    pub intermediate: Linear,
    /// `output.dense`.
    pub output: Linear,
    /// `output.LayerNorm`.
    pub out_ln: LayerNorm,
}

impl BertLayer {
    fn load(v: &View<'_>, c: &BertConfig, device: &Device) -> Result<Self> {
        let h = c.hidden;
        let a = v.pp("attention");
        Ok(Self {
            attn: MultiHeadAttention {
                q: a.linear("self.query", h, h, true, device)?,
                k: a.linear("self.key", h, h, true, device)?,
                v: a.linear("self.value", h, h, true, device)?,
                out: a.linear("output.dense", h, h, true, device)?,
                heads: c.heads,
            },
            attn_ln: a.layer_norm("output.LayerNorm", h, c.eps, device)?,
            intermediate: v.linear("intermediate.dense", h, c.intermediate, true, device)?,
            output: v.linear("output.dense", c.intermediate, h, true, device)?,
            out_ln: v.layer_norm("output.LayerNorm", h, c.eps, device)?,
        })
    }

    /// `x = LN(x + Attn(x)); x = LN(x + W2 gelu(W1 x))`.
    pub fn forward(&self, x: Tensor<3>, bias: &Tensor<4>) -> Tensor<3> {
        let a = self
            .attn
            .forward(x.clone(), x.clone(), x.clone(), Some(bias));
        let x = self.attn_ln.forward(x + a);
        let f = self
            .output
            .forward(gelu(self.intermediate.forward(x.clone())));
        self.out_ln.forward(x + f)
    }
}

/// BERT: embeddings + encoder layers; the output is the last layer `[B, L, hidden]` (the pooler
/// is unused by TransVG and not loaded).
#[derive(Debug, Clone)]
pub struct Bert {
    /// `[vocab, hidden]`.
    pub word: Tensor<2>,
    /// `[max_position, hidden]`.
    pub position: Tensor<2>,
    /// `[type_vocab, hidden]`; row 0 is used (`token_type_ids=None`).
    pub token_type: Tensor<2>,
    /// `embeddings.LayerNorm`.
    pub emb_ln: LayerNorm,
    /// Encoder layers.
    pub layers: Vec<BertLayer>,
    /// Sizes.
    pub config: BertConfig,
}

impl Bert {
    /// Load from a view rooted at the `BertModel` (`textmodel.bert` in TransVG).
    pub fn load(v: &View<'_>, c: &BertConfig, device: &Device) -> Result<Self> {
        let e = v.pp("embeddings");
        let h = c.hidden;
        Ok(Self {
            word: e.tensor("word_embeddings.weight", [c.vocab_size, h], device)?,
            position: e.tensor("position_embeddings.weight", [c.max_position, h], device)?,
            token_type: e.tensor("token_type_embeddings.weight", [c.type_vocab, h], device)?,
            emb_ln: e.layer_norm("LayerNorm", h, c.eps, device)?,
            layers: (0..c.layers)
                .map(|i| BertLayer::load(&v.pp("encoder.layer").pp(i), c, device))
                .collect::<Result<_>>()?,
            config: c.clone(),
        })
    }

    /// `ids` and `mask` (`B·L`, mask 1 = real token) → last hidden state `[B, L, hidden]`.
    /// The extended mask adds −10000 to padded keys (`pytorch_pretrained_bert`); ids outside the
    /// vocabulary are an error naming the id.
    pub fn forward(
        &self,
        ids: &[i64],
        mask: &[i64],
        batch: usize,
        device: &Device,
    ) -> Result<Tensor<3>> {
        let c = &self.config;
        let l = ids.len() / batch.max(1);
        if ids.len() != batch * l || mask.len() != ids.len() || l == 0 {
            return Err(VladaptError::Shape {
                what: "text ids and mask".into(),
                expected: format!("[{batch}, L] each, L ≥ 1"),
                actual: format!("{} ids and {} mask entries", ids.len(), mask.len()),
            });
        }
        if l > c.max_position {
            return Err(VladaptError::Shape {
                what: "text ids".into(),
                expected: format!("[{batch}, ≤ {}] (BERT's positions)", c.max_position),
                actual: format!("[{batch}, {l}]"),
            });
        }
        if let Some(bad) = ids.iter().find(|&&i| i < 0 || i as usize >= c.vocab_size) {
            return Err(VladaptError::argument(
                "text ids",
                format!("token id {bad} outside the vocabulary of {}", c.vocab_size),
            ));
        }
        let h = c.hidden;
        let idx = Tensor::<1, Int>::from_data(TensorData::new(ids.to_vec(), [batch * l]), device);
        let words = self.word.clone().select(0, idx).reshape([batch, l, h]);
        let pos = self.position.clone().narrow(0, 0, l).unsqueeze::<3>();
        let typ = self.token_type.clone().narrow(0, 0, 1).unsqueeze::<3>();
        let mut x = self.emb_ln.forward(words + pos + typ);
        let ext: Vec<f32> = mask.iter().map(|&m| (1.0 - m as f32) * -10000.0).collect();
        let bias = Tensor::<1>::from_data(TensorData::new(ext, [batch * l]), device)
            .reshape([batch, 1, 1, l]);
        for layer in &self.layers {
            x = layer.forward(x, &bias);
        }
        Ok(x)
    }
}
