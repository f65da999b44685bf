//! Plots decode as PNGs of the right size and are not blank.
mod common;

use vladapt_data::plot::font::{glyph, text_width};
use vladapt_data::plot::{heatmap, line_plot, nice_ticks, LINE_PLOT_H, LINE_PLOT_W};

#[test]
fn line_plot_png() {
    let t = common::TempDir::new("plot");
    let path = t.path().join("sub/loss.png");
    let series = vec![
        (
            "train loss".to_string(),
            vec![(1.0, 2.3), (2.0, 1.1), (3.0, 0.7), (4.0, 0.5)],
        ),
        (
            "val loss".to_string(),
            vec![(1.0, 2.5), (2.0, 1.4), (3.0, f64::NAN), (4.0, 0.9)],
        ),
    ];
    line_plot(&path, "Loss curve", &series, "epoch", "loss").unwrap();
    let img = image::open(&path).unwrap().to_rgb8();
    assert_eq!(img.dimensions(), (LINE_PLOT_W, LINE_PLOT_H));
    let non_white = img.pixels().filter(|p| p.0 != [255, 255, 255]).count();
    assert!(non_white > 2000, "{non_white} non-white pixels");
    // Both series colours are present.
    for col in [[31u8, 119, 180], [255, 127, 14]] {
        assert!(
            img.pixels().filter(|p| p.0 == col).count() > 50,
            "colour {col:?} missing"
        );
    }
}

#[test]
fn heatmap_png() {
    let t = common::TempDir::new("heat");
    let path = t.path().join("cm.png");
    let labels = vec!["cat".to_string(), "dog".to_string()];
    heatmap(
        &path,
        "Confusion",
        &[vec![1.0, 0.0], vec![0.0, 1.0]],
        &labels,
    )
    .unwrap();
    let img = image::open(&path).unwrap().to_rgb8();
    assert!(img.width() >= 200 && img.height() >= 120);
    // Two maximal cells of 48×48 px in dark blue (minus the digit drawn inside them).
    let dark = img.pixels().filter(|p| p.0 == [8, 48, 107]).count();
    assert!(dark > 2 * 48 * 48 * 9 / 10 && dark <= 2 * 48 * 48, "{dark}");
    assert!(heatmap(&path, "x", &[], &labels).is_err());
}

#[test]
fn font_and_ticks() {
    assert_eq!(glyph('a'), glyph('A'));
    assert_eq!(
        glyph('1'),
        [0b00100, 0b01100, 0b00100, 0b00100, 0b00100, 0b00100, 0b01110]
    );
    assert_eq!(text_width("AB", 1), 11);
    assert_eq!(text_width("AB", 2), 22);
    let t = nice_ticks(0.0, 1.0, 5);
    let want = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0];
    assert_eq!(t.len(), want.len());
    for (a, b) in t.iter().zip(want) {
        assert!((a - b).abs() < 1e-9);
    }
    assert_eq!(nice_ticks(3.0, 47.0, 4), vec![10.0, 20.0, 30.0, 40.0]);
}
