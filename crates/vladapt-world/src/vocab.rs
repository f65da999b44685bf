//! The closed vocabulary of the world: shapes, colours, sizes and spatial relations.

use serde::{Deserialize, Serialize};

/// A drawable shape. Every shape fills (roughly) the square `[-1, 1]²` of its local frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Shape {
    /// Filled disc.
    Circle,
    /// Axis-aligned square.
    Square,
    /// Upward-pointing triangle.
    Triangle,
    /// Five-pointed star.
    Star,
    /// Plus-shaped cross.
    Cross,
    /// Square rotated by 45°.
    Diamond,
    /// Regular hexagon.
    Hexagon,
    /// Annulus (disc with a hole).
    Ring,
    /// Regular pentagon.
    Pentagon,
    /// Crescent moon.
    Crescent,
}

impl Shape {
    /// All shapes, in canonical order.
    pub const ALL: [Shape; 10] = [
        Shape::Circle,
        Shape::Square,
        Shape::Triangle,
        Shape::Star,
        Shape::Cross,
        Shape::Diamond,
        Shape::Hexagon,
        Shape::Ring,
        Shape::Pentagon,
        Shape::Crescent,
    ];

    /// Singular English name ("circle").
    pub fn name(self) -> &'static str {
        match self {
            Shape::Circle => "circle",
            Shape::Square => "square",
            Shape::Triangle => "triangle",
            Shape::Star => "star",
            Shape::Cross => "cross",
            Shape::Diamond => "diamond",
            Shape::Hexagon => "hexagon",
            Shape::Ring => "ring",
            Shape::Pentagon => "pentagon",
            Shape::Crescent => "crescent",
        }
    }

    /// Plural English name ("crosses").
    pub fn plural(self) -> &'static str {
        match self {
            Shape::Circle => "circles",
            Shape::Square => "squares",
            Shape::Triangle => "triangles",
            Shape::Star => "stars",
            Shape::Cross => "crosses",
            Shape::Diamond => "diamonds",
            Shape::Hexagon => "hexagons",
            Shape::Ring => "rings",
            Shape::Pentagon => "pentagons",
            Shape::Crescent => "crescents",
        }
    }

    /// Whether rotating this shape would make it look like another shape (square ↔ diamond),
    /// so it must be drawn upright.
    pub fn rotation_sensitive(self) -> bool {
        matches!(self, Shape::Square | Shape::Diamond)
    }
}

/// A named colour with a nominal sRGB value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Colour {
    /// Red.
    Red,
    /// Green.
    Green,
    /// Blue.
    Blue,
    /// Yellow.
    Yellow,
    /// Purple.
    Purple,
    /// Orange.
    Orange,
    /// Pink.
    Pink,
    /// Cyan.
    Cyan,
    /// White.
    White,
    /// Black.
    Black,
}

impl Colour {
    /// All colours, in canonical order.
    pub const ALL: [Colour; 10] = [
        Colour::Red,
        Colour::Green,
        Colour::Blue,
        Colour::Yellow,
        Colour::Purple,
        Colour::Orange,
        Colour::Pink,
        Colour::Cyan,
        Colour::White,
        Colour::Black,
    ];

    /// English name ("red").
    pub fn name(self) -> &'static str {
        match self {
            Colour::Red => "red",
            Colour::Green => "green",
            Colour::Blue => "blue",
            Colour::Yellow => "yellow",
            Colour::Purple => "purple",
            Colour::Orange => "orange",
            Colour::Pink => "pink",
            Colour::Cyan => "cyan",
            Colour::White => "white",
            Colour::Black => "black",
        }
    }

    /// Nominal sRGB value used by the pretraining palette.
    pub fn rgb(self) -> [u8; 3] {
        match self {
            Colour::Red => [220, 30, 30],
            Colour::Green => [40, 170, 60],
            Colour::Blue => [40, 70, 220],
            Colour::Yellow => [240, 220, 40],
            Colour::Purple => [140, 50, 180],
            Colour::Orange => [250, 140, 20],
            Colour::Pink => [250, 130, 190],
            Colour::Cyan => [40, 210, 220],
            Colour::White => [245, 245, 245],
            Colour::Black => [15, 15, 15],
        }
    }

    /// Shifted shade used by the `palette` downstream style: same name, visibly different hue /
    /// saturation, so a model must generalise the colour word beyond the pretraining shade.
    pub fn shifted_rgb(self) -> [u8; 3] {
        match self {
            Colour::Red => [180, 40, 90],
            Colour::Green => [110, 160, 40],
            Colour::Blue => [70, 120, 190],
            Colour::Yellow => [210, 190, 90],
            Colour::Purple => [110, 70, 140],
            Colour::Orange => [215, 105, 55],
            Colour::Pink => [225, 160, 175],
            Colour::Cyan => [80, 175, 160],
            Colour::White => [225, 222, 205],
            Colour::Black => [45, 40, 55],
        }
    }
}

/// Size class of an object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SizeClass {
    /// Small object (about a fifth of the image side).
    Small,
    /// Large object (about two fifths of the image side).
    Large,
}

impl SizeClass {
    /// English adjective ("small").
    pub fn name(self) -> &'static str {
        match self {
            SizeClass::Small => "small",
            SizeClass::Large => "large",
        }
    }
}

/// Spatial relation between two objects, judged from their box centres along the dominant axis.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Relation {
    /// Subject centre is left of the reference centre.
    LeftOf,
    /// Subject centre is right of the reference centre.
    RightOf,
    /// Subject centre is above the reference centre.
    Above,
    /// Subject centre is below the reference centre.
    Below,
}

impl Relation {
    /// All relations, in canonical order.
    pub const ALL: [Relation; 4] = [
        Relation::LeftOf,
        Relation::RightOf,
        Relation::Above,
        Relation::Below,
    ];

    /// English phrase ("left of").
    pub fn phrase(self) -> &'static str {
        match self {
            Relation::LeftOf => "left of",
            Relation::RightOf => "right of",
            Relation::Above => "above",
            Relation::Below => "below",
        }
    }

    /// Relation of a subject centred at `a` to a reference centred at `b` (image coordinates,
    /// y grows downwards). The axis with the larger centre offset decides; ties go horizontal.
    pub fn between(a: [f32; 2], b: [f32; 2]) -> Relation {
        let dx = a[0] - b[0];
        let dy = a[1] - b[1];
        if dx.abs() >= dy.abs() {
            if dx < 0.0 {
                Relation::LeftOf
            } else {
                Relation::RightOf
            }
        } else if dy < 0.0 {
            Relation::Above
        } else {
            Relation::Below
        }
    }

    /// The relation seen in a horizontally flipped image (left of ↔ right of; above and below
    /// unchanged).
    pub fn mirrored(self) -> Relation {
        match self {
            Relation::LeftOf => Relation::RightOf,
            Relation::RightOf => Relation::LeftOf,
            r => r,
        }
    }

    /// The converse relation (left of ↔ right of, above ↔ below).
    pub fn inverse(self) -> Relation {
        match self {
            Relation::LeftOf => Relation::RightOf,
            Relation::RightOf => Relation::LeftOf,
            Relation::Above => Relation::Below,
            Relation::Below => Relation::Above,
        }
    }
}

/// English number word for small counts ("two"); falls back to digits.
pub fn count_word(n: usize) -> String {
    match n {
        0 => "no".into(),
        1 => "one".into(),
        2 => "two".into(),
        3 => "three".into(),
        4 => "four".into(),
        5 => "five".into(),
        _ => n.to_string(),
    }
}
