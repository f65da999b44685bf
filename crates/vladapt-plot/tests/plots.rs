//! Plots drawn through plotters: pixels where the data must land (axes, a line at a known
//! value, box edges at known coordinates), and SVGs that parse and carry their labels.
use std::path::{Path, PathBuf};

use vladapt_plot::{
    heat_color, heatmap, image_sheet, line_plot, write_png_and_svg, PlotError, SheetBox, SheetCell,
    LINE_PLOT_H, LINE_PLOT_PLOT_AREA, LINE_PLOT_W, PALETTE, SHEET_PAD,
};

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let p = std::env::temp_dir().join(format!(
            "vladapt-plot-{tag}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const BLACK: [u8; 3] = [0, 0, 0];

/// Whether some pixel within `r` pixels of `(x, y)` has colour `col`.
fn near(img: &image::RgbImage, x: i64, y: i64, r: i64, col: [u8; 3]) -> bool {
    (-r..=r).any(|dy| {
        (-r..=r).any(|dx| {
            let (px, py) = (x + dx, y + dy);
            px >= 0
                && py >= 0
                && (px as u32) < img.width()
                && (py as u32) < img.height()
                && img.get_pixel(px as u32, py as u32).0 == col
        })
    })
}

/// Text content of every `<text>` element of an SVG document.
fn svg_texts(path: &Path) -> Vec<String> {
    let src = std::fs::read_to_string(path).unwrap();
    let doc = roxmltree::Document::parse(&src).expect("the SVG is well-formed XML");
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    doc.descendants()
        .filter(|n| n.has_tag_name("text"))
        .map(|n| {
            n.descendants()
                .filter(|t| t.is_text())
                .filter_map(|t| t.text())
                .collect::<String>()
                .trim()
                .to_string()
        })
        .collect()
}

fn two_series() -> Vec<(String, Vec<(f64, f64)>)> {
    vec![
        (
            "rising".to_string(),
            vec![(0.0, 0.0), (5.0, 5.0), (10.0, 10.0)],
        ),
        (
            "flat".to_string(),
            vec![(0.0, 2.0), (4.0, f64::NAN), (10.0, 2.0)],
        ),
    ]
}

#[test]
fn line_plot_pixels_at_the_data() {
    let t = TempDir::new("line");
    let path = t.path().join("sub/loss.png");
    line_plot(&path, "Loss curve", &two_series(), "epoch", "loss").unwrap();
    let img = image::open(&path).unwrap().to_rgb8();
    assert_eq!(img.dimensions(), (LINE_PLOT_W, LINE_PLOT_H));
    let [l, t_, r, b] = LINE_PLOT_PLOT_AREA.map(|v| v as i64);
    // The frame: the left and bottom edges of the data rectangle are black along their length.
    let left_black = (t_..=b)
        .filter(|&y| img.get_pixel(l as u32, y as u32).0 == BLACK)
        .count() as i64;
    assert!(left_black > (b - t_) * 9 / 10, "left axis: {left_black}");
    let bottom_black = (l..=r)
        .filter(|&x| img.get_pixel(x as u32, b as u32).0 == BLACK)
        .count() as i64;
    assert!(
        bottom_black > (r - l) * 9 / 10,
        "bottom axis: {bottom_black}"
    );
    // Data → pixels: x ∈ [0, 10] exactly, y ∈ [0, 10] padded by 5 % → [−0.5, 10.5].
    let px = |x: f64| l as f64 + x / 10.0 * (r - l) as f64;
    let py = |y: f64| b as f64 - (y + 0.5) / 11.0 * (b - t_) as f64;
    let [rising, flat] = [PALETTE[0], PALETTE[1]];
    // The flat series at y = 2 (its NaN point skipped, so one segment across the plot).
    let y2 = py(2.0).round() as i64;
    for x in [1.5, 3.0, 6.5, 8.0] {
        let xp = px(x).round() as i64;
        assert!(near(&img, xp, y2, 1, flat), "flat line missing at x = {x}");
        assert!(!near(&img, xp, y2 - 8, 2, flat) && !near(&img, xp, y2 + 8, 2, flat));
    }
    // The rising series passes through (2.5, 2.5) and (7.5, 7.5); its marker sits at (5, 5).
    for v in [2.5, 5.0, 7.5] {
        let (xp, yp) = (px(v).round() as i64, py(v).round() as i64);
        assert!(near(&img, xp, yp, 2, rising), "rising line missing at {v}");
    }
    // Real font: the title band holds anti-aliased glyph pixels (grey levels, not just black).
    let title: Vec<[u8; 3]> = (0..40u32)
        .flat_map(|y| (0..LINE_PLOT_W).map(move |x| (x, y)))
        .map(|(x, y)| img.get_pixel(x, y).0)
        .filter(|p| *p != [255, 255, 255])
        .collect();
    assert!(title.len() > 150, "title pixels: {}", title.len());
    assert!(title
        .iter()
        .any(|p| p[0] > 30 && p[0] < 220 && p[0] == p[1]));
}

#[test]
fn line_plot_svg_parses_with_labels() {
    let t = TempDir::new("svg");
    let png = t.path().join("curve.png");
    write_png_and_svg(&png, |p| {
        line_plot(p, "Few-shot curve", &two_series(), "shots", "accuracy %")
    })
    .unwrap();
    assert!(png.exists());
    let texts = svg_texts(&t.path().join("curve.svg"));
    for want in ["Few-shot curve", "shots", "accuracy %", "rising", "flat"] {
        assert!(texts.iter().any(|s| s == want), "{want:?} not in {texts:?}");
    }
    // Tick labels are numbers inside the data range.
    assert!(texts.iter().any(|s| s.trim() == "10" || s.trim() == "10.0"));
}

#[test]
fn heatmap_cells_and_labels() {
    let t = TempDir::new("heat");
    let path = t.path().join("cm.png");
    let labels = vec!["cat".to_string(), "dog".to_string()];
    let m = [vec![3.0, 0.0], vec![0.0, 3.0]];
    heatmap(&path, "Confusion", &m, &labels).unwrap();
    let img = image::open(&path).unwrap().to_rgb8();
    assert!(img.width() >= 200 && img.height() >= 120);
    // Two maximal cells of 48×48 px in the dark end of the scale, minus the "3" drawn in each.
    let dark = heat_color(1.0);
    assert_eq!(dark, [8, 48, 107]);
    let n = img.pixels().filter(|p| p.0 == dark).count();
    assert!(n > 2 * 48 * 48 * 9 / 10 && n <= 2 * 48 * 48, "{n}");
    // The dark cells lie on the diagonal: the bounding box of dark pixels is 96×96.
    let xs: Vec<u32> = img
        .enumerate_pixels()
        .filter(|p| p.2 .0 == dark)
        .map(|p| p.0)
        .collect();
    let ys: Vec<u32> = img
        .enumerate_pixels()
        .filter(|p| p.2 .0 == dark)
        .map(|p| p.1)
        .collect();
    let span = |v: &[u32]| v.iter().max().unwrap() - v.iter().min().unwrap() + 1;
    assert_eq!((span(&xs), span(&ys)), (96, 96));
    let (x0, y0) = (*xs.iter().min().unwrap(), *ys.iter().min().unwrap());
    // Off-diagonal cells (value 0) are white away from the "0" at their centres.
    assert_eq!(img.get_pixel(x0 + 52, y0 + 4).0, [255, 255, 255]);
    assert_eq!(img.get_pixel(x0 + 4, y0 + 52).0, [255, 255, 255]);

    let svg = t.path().join("cm.svg");
    heatmap(&svg, "Confusion", &m, &labels).unwrap();
    let texts = svg_texts(&svg);
    for want in ["Confusion", "cat", "dog", "predicted", "true", "3"] {
        assert!(texts.iter().any(|s| s == want), "{want:?} not in {texts:?}");
    }
    assert!(matches!(
        heatmap(&path, "x", &[], &labels),
        Err(PlotError::Invalid { .. })
    ));
    assert!(matches!(
        heatmap(&t.path().join("cm.jpg"), "x", &m, &labels),
        Err(PlotError::Format { .. })
    ));
}

#[test]
fn image_sheet_box_edges() {
    let t = TempDir::new("sheet");
    let path = t.path().join("sheet.png");
    let grey = [128u8, 128, 128];
    let (red, green) = ([220u8, 0, 0], [0u8, 170, 0]);
    let cell = SheetCell {
        image: image::RgbImage::from_pixel(100, 80, image::Rgb(grey)),
        boxes: vec![
            SheetBox {
                xyxy: [10.0, 20.0, 60.0, 70.0],
                color: red,
                thickness: 2,
            },
            SheetBox {
                xyxy: [30.0, 5.0, 90.0, 50.0],
                color: green,
                thickness: 1,
            },
        ],
        lines: vec![("a red box".into(), [0, 0, 0])],
    };
    image_sheet(&path, &[cell.clone(), cell]).unwrap();
    let img = image::open(&path).unwrap().to_rgb8();
    let p = SHEET_PAD;
    // Two columns of (100 + 2·pad) px; one row of (80 + one text line + 2·pad) px.
    assert_eq!(img.width(), 2 * (100 + 2 * p));
    assert!(img.height() > 80 + 2 * p && img.height() < 80 + 2 * p + 40);
    for ox in [p, 100 + 3 * p] {
        let at = |x: u32, y: u32| img.get_pixel(ox + x, p + y).0;
        // Red box: 2 px edges at x = 10, 11 and x = 60, 59; y = 20, 21 and 70, 69.
        assert_eq!(at(10, 40), red);
        assert_eq!(at(11, 40), red);
        assert_eq!(at(12, 40), grey);
        assert_eq!(at(9, 40), grey);
        assert_eq!(at(60, 60), red);
        assert_eq!(at(59, 60), red);
        assert_eq!(at(58, 60), grey);
        assert_eq!(at(20, 20), red);
        assert_eq!(at(20, 70), red);
        assert_eq!(at(20, 71), grey);
        // Green box (drawn after the red one): 1 px edges at x = 30 / 90, y = 5 / 50.
        assert_eq!(at(30, 10), green);
        assert_eq!(at(31, 10), grey);
        assert_eq!(at(90, 30), green);
        assert_eq!(at(50, 5), green);
        assert_eq!(at(50, 50), green);
        assert_eq!(at(30, 40), green);
        // Inside both boxes: the image.
        assert_eq!(at(45, 35), grey);
        // The text line under the image is drawn.
        let dark = (80..img.height() - p)
            .flat_map(|y| (0..100).map(move |x| (x, y)))
            .filter(|&(x, y)| img.get_pixel(ox + x, p + y - p).0[0] < 128)
            .count();
        assert!(dark > 20, "text pixels {dark}");
    }
    assert!(matches!(
        image_sheet(&t.path().join("s.svg"), &[]),
        Err(PlotError::Invalid { .. })
    ));
}
