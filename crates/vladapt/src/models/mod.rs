//! Frozen backbones with hook points for the adaptation methods.
pub mod clip;
pub mod grounding;
pub mod keymap;
pub mod to_device;

pub use to_device::ToDevice;
