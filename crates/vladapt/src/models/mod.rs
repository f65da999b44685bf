//! Frozen backbones with hook points for the adaptation methods.
pub mod clip;
pub mod grounding;
pub mod keymap;
