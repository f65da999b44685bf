//! Zero-shot accuracy of a CLIP on a `vladapt world task` data set, base-to-novel style:
//! base = the first ⌈n/2⌉ labels (classified among base classes only), novel = the rest
//! (among novel classes only), plus all-way accuracy and the harmonic mean.
//!
//! `cargo run --release -p vladapt --example zeroshot_world -- MODEL_DIR TASK_DIR [SPLIT]`
use std::path::{Path, PathBuf};
use vladapt::models::clip::{l2_normalize, ClipPipeline, NoHook};
use vladapt::tensor_io::to_vec_f32;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        return Err("usage: zeroshot_world MODEL_DIR TASK_DIR [SPLIT]".into());
    }
    let (model, task) = (Path::new(&args[1]), Path::new(&args[2]));
    let split = args.get(3).map(String::as_str).unwrap_or("test");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(task.join("vladapt_dataset.json"))?)?;
    let classes: Vec<String> = manifest["classnames"]
        .as_array()
        .ok_or("classnames")?
        .iter()
        .map(|c| c.as_str().unwrap_or_default().to_string())
        .collect();
    let template = manifest["template"].as_str().unwrap_or("a photo of a {}.");
    let root = task.join(manifest["image_root"].as_str().unwrap_or("images"));
    let splits: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(
        task.join(manifest["split_file"].as_str().unwrap_or("split.json")),
    )?)?;
    let entries = splits[split].as_array().ok_or("split")?;
    let paths: Vec<PathBuf> = entries
        .iter()
        .map(|e| root.join(e[0].as_str().unwrap_or_default()))
        .collect();
    let labels: Vec<usize> = entries
        .iter()
        .map(|e| e[1].as_u64().unwrap_or(0) as usize)
        .collect();
    let t0 = std::time::Instant::now();
    let device = vladapt::device::default_device();
    let p = ClipPipeline::load(model, &device)?;
    let w = p.zero_shot_weights(&classes, &[template.to_string()])?;
    let n = classes.len();
    let nb = n.div_ceil(2);
    let mut sims: Vec<Vec<f32>> = Vec::new();
    for chunk in paths.chunks(128) {
        let f = l2_normalize(p.model.encode_image(p.load_pixels(chunk)?, &NoHook)?);
        let s = to_vec_f32(&f.matmul(w.clone().transpose()));
        sims.extend(s.chunks(n).map(|r| r.to_vec()));
    }
    let argmax = |r: &[f32], lo: usize, hi: usize| {
        (lo..hi)
            .max_by(|&a, &b| r[a].total_cmp(&r[b]))
            .unwrap_or(lo)
    };
    let (mut all, mut base, mut nbase, mut novel, mut nnovel) = (0, 0, 0, 0, 0);
    for (r, &y) in sims.iter().zip(&labels) {
        all += usize::from(argmax(r, 0, n) == y);
        if y < nb {
            nbase += 1;
            base += usize::from(argmax(r, 0, nb) == y);
        } else {
            nnovel += 1;
            novel += usize::from(argmax(r, nb, n) == y);
        }
    }
    let pct = |a: usize, b: usize| 100.0 * a as f64 / b.max(1) as f64;
    let (b, nv) = (pct(base, nbase), pct(novel, nnovel));
    println!(
        "{{\"split\":\"{split}\",\"images\":{},\"classes\":{n},\"all_way\":{:.2},\"base\":{b:.2},\
         \"novel\":{nv:.2},\"hm\":{:.2},\"chance_all\":{:.2},\"chance_base\":{:.2},\
         \"chance_novel\":{:.2},\"seconds\":{:.1}}}",
        labels.len(),
        pct(all, labels.len()),
        if b + nv > 0.0 {
            2.0 * b * nv / (b + nv)
        } else {
            0.0
        },
        100.0 / n as f64,
        100.0 / nb as f64,
        100.0 / (n - nb).max(1) as f64,
        t0.elapsed().as_secs_f64()
    );
    Ok(())
}
