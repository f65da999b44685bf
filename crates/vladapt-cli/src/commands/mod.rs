//! The subcommands, one file each (`bench` is a folder: one file per benchmark).
pub mod bench;
pub mod classify;
pub mod convert;
pub mod data;
pub mod demo;
pub mod demo_grounding;
pub mod embed;
pub mod embed_dataset;
pub mod ground;
pub mod ground_inspect;
pub mod ground_shard;
pub mod ground_train;
pub mod packages;
pub mod pretrain;
pub mod progress_bars;
pub mod protocol;
pub mod serve;
pub mod train;
pub mod world;

use anyhow::Result;
use vladapt::tensor::Device;

/// Parse a subcommand's `--device` value.
pub fn device(name: &str) -> Result<Device> {
    Ok(vladapt::device::parse_device(name)?)
}
