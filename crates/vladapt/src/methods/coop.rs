//! CoOp (Zhou et al., "Learning to Prompt for Vision-Language Models", IJCV 2022), Eq. 2:
//! `t_i = [SOT][V]_1…[V]_M[CLASS_i].` with learned context vectors `[V]` `[M, width]`
//! (or class-specific `[C, M, width]`), text tower frozen, image tower frozen.
use super::{check_range, MethodKind, MethodSpec, Protocol, QuickDemo, Recipe};
use serde::{Deserialize, Serialize};
use super::prompts::{clean_classname, init_context, PromptTokens};
use super::{AdaptMethod, ClassSet, Params};
use crate::models::clip::{l2_normalize, ClipModel, NoHook};
use crate::{Result, VladaptError};
use burn::tensor::{Device, Tensor};
use vladapt_tokenizer::ClipTokenizer;

/// Where the class-name tokens go relative to the learned context (CoOp).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClassTokenPosition {
    /// `[SOT][ctx][class].`
    End,
    /// `[SOT][ctx/2][class][ctx/2].`
    Middle,
    /// `[SOT][class][ctx].`
    Front,
}


/// CoOp (Zhou et al., IJCV 2022).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CoopConfig {
    /// Context length M (ignored when `ctx_init` is set: M = its word count).
    pub n_ctx: usize,
    /// Initialise the context from these words (e.g. "a photo of a"); `None` = N(0, 0.02²).
    pub ctx_init: Option<String>,
    /// Class-specific context (CSC).
    pub csc: bool,
    /// Class token position.
    pub class_token_position: ClassTokenPosition,
}

impl Default for CoopConfig {
    fn default() -> Self {
        Self {
            n_ctx: 16,
            ctx_init: None,
            csc: false,
            class_token_position: ClassTokenPosition::End,
        }
    }
}


impl MethodSpec for CoopConfig {
    const NAME: &'static str = "coop";

    /// Learned context tokens share the 77-token text context with SOT, EOT and the class
    /// name: more than 72 can never fit.
    fn validate(&self) -> Result<()> {
        check_range("n_ctx", self.n_ctx, 1, 72)
    }

    /// 200/100/50 epochs by shots, M = 16 random init few-shot; base-to-novel: 200 epochs,
    /// M = 4 from "a photo of a".
    fn recipe(&mut self, protocol: Protocol, shots: usize) -> Recipe {
        if protocol == Protocol::Base2novel {
            *self = CoopConfig {
                n_ctx: 4,
                ctx_init: Some("a photo of a".into()),
                ..Default::default()
            };
            return Recipe::sgd(0.002, 200, true);
        }
        Recipe::sgd(0.002, Recipe::coop_epochs(shots), true)
    }

    fn quick_demo() -> Option<QuickDemo> {
        Some(QuickDemo {
            quick_epochs: 5,
            overrides: &[],
        })
    }

    fn build(
        &self,
        clip: &ClipModel,
        tokenizer: &ClipTokenizer,
        device: &Device,
    ) -> Result<Box<dyn AdaptMethod>> {
        Ok(Box::new(Coop::new(self.clone(), clip, tokenizer, device)?))
    }
}


/// Tensor name of the context.
pub const CTX: &str = "coop.ctx";

/// Class-dependent frozen buffers.
struct Buffers {
    prompts: PromptTokens,
    name_lens: Vec<usize>,
}

/// CoOp.
pub struct Coop {
    config: CoopConfig,
    params: Params,
    n_ctx: usize,
    prefix_text: String,
    width: usize,
    device: Device,
    buffers: Option<Buffers>,
    /// Normalised text features `[C, proj]`, computed by `freeze_for_inference` (the context
    /// no longer changes, so inference skips the text tower); cleared when the context or the
    /// classes change.
    cached_text: Option<Tensor<2>>,
}

impl Coop {
    /// Initialise the context (from `ctx_init` words or N(0, 0.02²)).
    pub fn new(
        config: CoopConfig,
        clip: &ClipModel,
        tok: &ClipTokenizer,
        device: &Device,
    ) -> Result<Self> {
        let width = clip.config.text.width;
        let mut params = Params::new();
        let (n_ctx, prefix_text) = match &config.ctx_init {
            Some(init) => {
                let init = init.replace('_', " ");
                let ctx = init_context(clip, tok, &init)?;
                let n = ctx.dims()[0];
                if config.csc {
                    // Class-specific context starts from the same words for every class; the
                    // tensor is created in `set_classes` once the class count is known.
                } else {
                    params.push_tensor(CTX, ctx);
                }
                (n, init)
            }
            None => {
                if config.n_ctx == 0 {
                    return Err(VladaptError::config_value("method.n_ctx", 0, "at least 1"));
                }
                if !config.csc {
                    params.push_normal(CTX, &[config.n_ctx, width], 0.02, device);
                }
                (config.n_ctx, vec!["X"; config.n_ctx].join(" "))
            }
        };
        Ok(Self {
            config,
            params,
            n_ctx,
            prefix_text,
            width,
            device: device.clone(),
            buffers: None,
            cached_text: None,
        })
    }

    fn context(&self, n_cls: usize) -> Tensor<3> {
        if self.config.csc {
            self.params.get::<3>(CTX)
        } else {
            self.params
                .get::<2>(CTX)
                .unsqueeze::<3>()
                .expand([n_cls, self.n_ctx, self.width])
        }
    }

    /// Assemble the prompt embeddings `[C, L, width]` from a context `[C, M, width]`.
    pub(crate) fn assemble(
        position: ClassTokenPosition,
        prompts: &PromptTokens,
        name_lens: &[usize],
        ctx: Tensor<3>,
    ) -> Tensor<3> {
        let [c, l, _] = prompts.embeds.dims();
        let m = ctx.dims()[1];
        let prefix = prompts.embeds.clone().narrow(1, 0, 1);
        let suffix = prompts.embeds.clone().narrow(1, 1 + m, l - 1 - m);
        match position {
            ClassTokenPosition::End => Tensor::cat(vec![prefix, ctx, suffix], 1),
            ClassTokenPosition::Middle | ClassTokenPosition::Front => {
                let half = m / 2;
                let rows = (0..c)
                    .map(|i| {
                        let p = prefix.clone().narrow(0, i, 1);
                        let s = suffix.clone().narrow(0, i, 1);
                        let k = name_lens[i];
                        let class = s.clone().narrow(1, 0, k);
                        let rest = s.narrow(1, k, l - 1 - m - k);
                        let ci = ctx.clone().narrow(0, i, 1);
                        if position == ClassTokenPosition::Middle {
                            Tensor::cat(
                                vec![
                                    p,
                                    ci.clone().narrow(1, 0, half),
                                    class,
                                    ci.narrow(1, half, m - half),
                                    rest,
                                ],
                                1,
                            )
                        } else {
                            Tensor::cat(vec![p, class, ci, rest], 1)
                        }
                    })
                    .collect();
                Tensor::cat(rows, 0)
            }
        }
    }
}

impl AdaptMethod for Coop {
    fn kind(&self) -> MethodKind {
        MethodKind::Coop
    }
    fn params(&self) -> &Params {
        &self.params
    }
    fn params_mut(&mut self) -> &mut Params {
        self.cached_text = None;
        &mut self.params
    }
    fn set_classes(&mut self, classes: &ClassSet<'_>) -> Result<()> {
        self.cached_text = None;
        let n = classes.classnames.len();
        if self.config.csc {
            if self.params.contains(CTX) {
                let have = self.params.entries()[0].shape[0];
                if have != n {
                    return Err(VladaptError::ClassCount {
                        what: "class-specific CoOp context".into(),
                        trained: have,
                        given: n,
                        why: "CSC is tied to its class list",
                    });
                }
            } else {
                match &self.config.ctx_init {
                    Some(init) => {
                        let ctx =
                            init_context(classes.clip, classes.tokenizer, &init.replace('_', " "))?;
                        self.params.push_tensor(
                            CTX,
                            ctx.unsqueeze::<3>()
                                .expand([n, self.n_ctx, self.width])
                                .reshape([n, self.n_ctx, self.width]),
                        );
                    }
                    None => self.params.push_normal(
                        CTX,
                        &[n, self.n_ctx, self.width],
                        0.02,
                        &self.device,
                    ),
                }
            }
        }
        let texts: Vec<String> = classes
            .classnames
            .iter()
            .map(|c| format!("{} {}.", self.prefix_text, clean_classname(c)))
            .collect();
        let prompts = PromptTokens::new(classes.clip, classes.tokenizer, &texts)?;
        let name_lens = classes
            .classnames
            .iter()
            .map(|c| classes.tokenizer.encode(&clean_classname(c)).len())
            .collect();
        self.buffers = Some(Buffers { prompts, name_lens });
        Ok(())
    }
    fn logits(&self, clip: &ClipModel, image_features: Tensor<2>) -> Result<Tensor<2>> {
        let text = self.text_features(clip)?;
        Ok(clip.logits_unit_text(image_features, text))
    }
    fn freeze_for_inference(&mut self, clip: &ClipModel) -> Result<()> {
        self.cached_text = None;
        self.cached_text = Some(self.text_features(clip)?);
        Ok(())
    }
}

impl Coop {
    /// Normalised text features `[C, proj]` of the assembled prompts (cached after
    /// `freeze_for_inference`).
    fn text_features(&self, clip: &ClipModel) -> Result<Tensor<2>> {
        if let Some(t) = &self.cached_text {
            return Ok(t.clone());
        }
        let b = self
            .buffers
            .as_ref()
            .ok_or(VladaptError::CallOrder {
                method: "coop",
                call: "set_classes",
            })?;
        let ctx = self.context(b.prompts.len());
        let x = Self::assemble(
            self.config.class_token_position,
            &b.prompts,
            &b.name_lens,
            ctx,
        );
        Ok(l2_normalize(clip.text.forward_embeds(
            x,
            &b.prompts.eot,
            &NoHook,
        )))
    }
}
