//! Signed distance functions of the shapes in their local frame (shape fills about `[-1, 1]²`,
//! negative inside, y grows downwards as in images).

use std::sync::OnceLock;

use crate::vocab::Shape;

type Poly = Vec<[f32; 2]>;

struct Polygons {
    triangle: Poly,
    star: Poly,
    diamond: Poly,
    hexagon: Poly,
    pentagon: Poly,
}

fn regular(n: usize, radius: f32, start_deg: f32) -> Poly {
    (0..n)
        .map(|k| {
            let a = (start_deg + 360.0 * k as f32 / n as f32).to_radians();
            [radius * a.cos(), radius * a.sin()]
        })
        .collect()
}

fn polygons() -> &'static Polygons {
    static P: OnceLock<Polygons> = OnceLock::new();
    P.get_or_init(|| {
        let star = (0..10)
            .map(|k| {
                let r = if k % 2 == 0 { 1.0 } else { 0.45 };
                let a = (-90.0f32 + 36.0 * k as f32).to_radians();
                [r * a.cos(), r * a.sin() + 0.1]
            })
            .collect();
        Polygons {
            triangle: vec![[0.0, -0.95], [1.0, 0.85], [-1.0, 0.85]],
            star,
            diamond: vec![[0.0, -1.0], [1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]],
            hexagon: regular(6, 1.0, 0.0),
            pentagon: regular(5, 1.0, -90.0)
                .into_iter()
                .map(|[x, y]| [x, y + 0.1])
                .collect(),
        }
    })
}

/// Exact signed distance to a simple polygon (after Inigo Quilez, "sdPolygon").
fn sd_polygon(v: &[[f32; 2]], p: [f32; 2]) -> f32 {
    let sub = |a: [f32; 2], b: [f32; 2]| [a[0] - b[0], a[1] - b[1]];
    let dot = |a: [f32; 2], b: [f32; 2]| a[0] * b[0] + a[1] * b[1];
    let w0 = sub(p, v[0]);
    let mut d = dot(w0, w0);
    let mut s = 1.0f32;
    let n = v.len();
    let mut j = n - 1;
    for i in 0..n {
        let e = sub(v[j], v[i]);
        let w = sub(p, v[i]);
        let t = (dot(w, e) / dot(e, e)).clamp(0.0, 1.0);
        let b = [w[0] - e[0] * t, w[1] - e[1] * t];
        d = d.min(dot(b, b));
        let c1 = p[1] >= v[i][1];
        let c2 = p[1] < v[j][1];
        let c3 = e[0] * w[1] > e[1] * w[0];
        if (c1 && c2 && c3) || (!c1 && !c2 && !c3) {
            s = -s;
        }
        j = i;
    }
    s * d.sqrt()
}

/// Exact signed distance to an axis-aligned box of half extents `b`.
fn sd_box(p: [f32; 2], b: [f32; 2]) -> f32 {
    let qx = p[0].abs() - b[0];
    let qy = p[1].abs() - b[1];
    let ox = qx.max(0.0);
    let oy = qy.max(0.0);
    (ox * ox + oy * oy).sqrt() + qx.max(qy).min(0.0)
}

fn len(p: [f32; 2]) -> f32 {
    (p[0] * p[0] + p[1] * p[1]).sqrt()
}

/// Signed distance (local units) from `p` to `shape`; exact except for the crescent, where it
/// is a conservative bound.
pub fn shape_sdf(shape: Shape, p: [f32; 2]) -> f32 {
    let polys = polygons();
    match shape {
        Shape::Circle => len(p) - 1.0,
        Shape::Square => sd_box(p, [0.85, 0.85]),
        Shape::Triangle => sd_polygon(&polys.triangle, p),
        Shape::Star => sd_polygon(&polys.star, p),
        Shape::Cross => sd_box(p, [1.0, 0.32]).min(sd_box(p, [0.32, 1.0])),
        Shape::Diamond => sd_polygon(&polys.diamond, p),
        Shape::Hexagon => sd_polygon(&polys.hexagon, p),
        Shape::Ring => (len(p) - 0.72).abs() - 0.28,
        Shape::Pentagon => sd_polygon(&polys.pentagon, p),
        Shape::Crescent => (len(p) - 1.0).max(-(len([p[0] - 0.45, p[1] + 0.25]) - 0.8)),
    }
}
