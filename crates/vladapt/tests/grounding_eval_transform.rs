//! The data layer's eval transform (`vladapt_data::grounding::GroundingAugment::eval`, used by the
//! trainer's validation) equals the model's test-time `prepare` bit for bit: same pixels, same
//! mask, same placement, and the box mapped as `Letterbox::box_to_canvas` maps it.
use vladapt::models::grounding::preprocess::prepare;
use vladapt_data::grounding::GroundingAugment;
use vladapt_image::RgbImage;

fn noise(w: u32, h: u32, seed: u32) -> RgbImage {
    let mut s = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    RgbImage::from_fn(w, h, |_, _| {
        let mut px = [0u8; 3];
        for v in &mut px {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            *v = (s >> 24) as u8;
        }
        image::Rgb(px)
    })
}

#[test]
fn eval_transform_equals_prepare() {
    let cases = [
        (640, 480, 640),
        (1000, 500, 640),
        (300, 101, 64),
        (37, 90, 128),
        (128, 128, 128),
        (1, 1, 64),
        (211, 97, 160),
    ];
    for (k, (w, h, canvas)) in cases.into_iter().enumerate() {
        let img = noise(w, h, k as u32);
        let b = [
            w as f32 * 0.1,
            h as f32 * 0.2,
            w as f32 * 0.7,
            h as f32 * 0.9,
        ];
        let p = prepare(&img, canvas).unwrap();
        for aug in [
            GroundingAugment::official(canvas),
            GroundingAugment::fixed(canvas),
        ] {
            let s = aug.eval(&img, "The Man", b).unwrap();
            assert_eq!(s.chw, p.pixels, "{w}×{h} on {canvas}");
            assert_eq!(s.mask, p.mask, "{w}×{h} on {canvas}");
            assert_eq!(s.placement.size, p.letterbox.resized);
            assert_eq!(s.placement.offset, p.letterbox.offset);
            let want = p.letterbox.box_to_canvas(b);
            for (a, e) in s.box_cxcywh.iter().zip(want) {
                assert!(
                    (a - e).abs() < 1e-6,
                    "{w}×{h}: {:?} vs {want:?}",
                    s.box_cxcywh
                );
            }
            assert_eq!(s.expression, "the man");
        }
    }
}
