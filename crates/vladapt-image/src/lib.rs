//! Image decoding, CLIP test preprocessing and training augmentation.
//!
//! - [`ImageLimits`], [`load_rgb`], [`decode_rgb`]: any PNG/JPEG/WebP/BMP/GIF → RGB8 as PIL's
//!   `convert("RGB")` (JPEG through libjpeg-turbo, bit-identical to Pillow), pixel budget
//!   checked from the header before decoding, EXIF orientation not applied (as `Image.open`).
//! - [`Preprocess`]: resize shorter side with PIL-exact bicubic ([`resize_bicubic`]), centre
//!   crop, normalise → CHW `Vec<f32>`.
//! - [`adjust_brightness`], [`adjust_contrast`], [`adjust_saturation`]: Pillow `ImageEnhance`,
//!   byte-exact (TransVG's ColorJitter).
//! - [`TrainAugment`]: RandomResizedCrop + horizontal flip, seeded per sample by
//!   [`augment_rng`] → CHW `Vec<f32>`.
mod augment;
mod decode;
mod enhance;
mod error;
mod header;
mod jpeg;
mod preprocess;
mod resize;
mod tensor;

pub use augment::{augment_rng, CropBox, TrainAugment};
pub use decode::{decode_rgb, load_rgb};
pub use enhance::{adjust_brightness, adjust_contrast, adjust_saturation, pil_blend, pil_luma};
pub use error::{ImageError, ImageLimits};
pub use image::RgbImage;
pub use preprocess::{center_crop, resized_size, CropRounding, Preprocess};
pub use rand_chacha::ChaCha8Rng;
pub use resize::{
    resize_bicubic, resize_bicubic_ordered, resize_bilinear, resize_window, resize_window_filtered,
    Filter, PassOrder,
};
pub use tensor::{to_chw_normalised, CLIP_MEAN, CLIP_STD};
