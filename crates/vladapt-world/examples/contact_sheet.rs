//! Tiles PNG files into one upscaled sheet for eyeballing:
//! `cargo run --release -p vladapt-world --example contact_sheet -- OUT.png SCALE COLS FILE...`.

use image::{imageops, RgbImage};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 5 {
        return Err("usage: contact_sheet OUT.png SCALE COLS FILE...".into());
    }
    let scale: u32 = args[2].parse()?;
    let cols: u32 = args[3].parse()?;
    let imgs: Vec<RgbImage> = args[4..]
        .iter()
        .map(|p| image::open(p).map(|i| i.to_rgb8()))
        .collect::<Result<_, _>>()?;
    let (w, h) = (imgs[0].width() * scale, imgs[0].height() * scale);
    let rows = (imgs.len() as u32).div_ceil(cols);
    let mut sheet = RgbImage::new(cols * (w + 2), rows * (h + 2));
    for (k, img) in imgs.iter().enumerate() {
        let big = imageops::resize(img, w, h, imageops::FilterType::Nearest);
        let (c, r) = (k as u32 % cols, k as u32 / cols);
        imageops::replace(&mut sheet, &big, (c * (w + 2)) as i64, (r * (h + 2)) as i64);
    }
    sheet.save(&args[1])?;
    Ok(())
}
