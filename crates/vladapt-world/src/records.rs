//! Serialisable per-image records written to `annotations.jsonl`.

use serde::{Deserialize, Serialize};

use crate::background::BackgroundKind;
use crate::render::PixelBox;
use crate::style::Style;
use crate::vocab::{Colour, Shape, SizeClass};

/// One object of an annotated image.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ObjectRecord {
    /// Shape name.
    pub shape: Shape,
    /// Colour name.
    pub colour: Colour,
    /// Size class.
    pub size: SizeClass,
    /// Actual drawn colour (after jitter / palette shift).
    pub rgb: [u8; 3],
    /// Tight pixel box `[x0, y0, x1, y1]`, end-exclusive.
    #[serde(rename = "box")]
    pub bbox: PixelBox,
    /// Referring expressions that pick out this object.
    pub referring: Vec<String>,
}

/// One line of `annotations.jsonl`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ImageRecord {
    /// Image path relative to the output directory (`images/000000.png`).
    pub image: String,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Rendering style.
    pub style: Style,
    /// Background kind.
    pub background: BackgroundKind,
    /// Objects in drawing order.
    pub objects: Vec<ObjectRecord>,
    /// All captions of the image.
    pub captions: Vec<String>,
    /// Task split (`train`/`val`/`test`), classification tasks only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split: Option<String>,
    /// Class label, classification tasks only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<usize>,
    /// Class name, classification tasks only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classname: Option<String>,
}
