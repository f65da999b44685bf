//! Untrained adapters (freshly initialised parameters) written as run directories, for
//! benchmarks and tests that need many adapters quickly. They are real adapter files: served,
//! loaded and checked exactly like trained ones.
use std::path::Path;
use vladapt::methods::{build, ClassSet, MethodConfig};
use vladapt::models::clip::ClipPipeline;
use vladapt::train::config::{Protocol, RunConfig};
use vladapt::train::run_dir::{fingerprint, save_adapter, AdapterConfig};

/// Write `dir/adapter.safetensors` + `dir/adapter_config.json` for a freshly initialised
/// `method` on `pipe`'s model with `classes` (template "a photo of a {}.").
pub fn write_adapter(
    pipe: &ClipPipeline,
    dir: &Path,
    method: MethodConfig,
    classes: &[String],
) -> vladapt::Result<()> {
    let kind = method.kind();
    let mut run = RunConfig::preset(kind, Protocol::FewShot, 1, 1);
    run.method = method.clone();
    let mut m = build(&method, &pipe.model, &pipe.tokenizer, &pipe.device)?;
    let template = "a photo of a {}.";
    m.set_classes(&ClassSet {
        clip: &pipe.model,
        tokenizer: &pipe.tokenizer,
        classnames: classes,
        template,
    })?;
    std::fs::create_dir_all(dir).map_err(|e| vladapt::VladaptError::io(dir, e))?;
    let cfg = AdapterConfig {
        vladapt_version: env!("CARGO_PKG_VERSION").into(),
        method,
        run,
        classnames: classes.to_vec(),
        template: template.into(),
        dataset: "synthetic".into(),
        base_model: pipe.dir.clone(),
        base_model_fingerprint: fingerprint(&pipe.model),
    };
    save_adapter(dir, m.params(), &cfg)
}
