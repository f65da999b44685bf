//! Generates a pretraining set and a task and prints timings:
//! `cargo run --release -p vladapt-world --example world_generate -- OUT N [STYLE]`.

use std::path::PathBuf;
use std::time::Instant;

use vladapt_world::{generate_pretrain, generate_task, Style, TaskSpec, WorldOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let out = args
        .get(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("world"));
    let n: usize = args.get(2).map(|s| s.parse()).transpose()?.unwrap_or(1000);
    let style: Style = args
        .get(3)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(Style::Outline);
    let t = Instant::now();
    let s = generate_pretrain(&out.join("pretrain"), 1, n, &WorldOptions::default())?;
    println!(
        "pretrain: {} images, {} captions in {:.2}s; missing {:?}",
        s.images,
        s.captions,
        t.elapsed().as_secs_f64(),
        s.missing()
    );
    let t = Instant::now();
    let spec = TaskSpec {
        style,
        name: format!("world_{style}"),
        ..TaskSpec::default()
    };
    let s = generate_task(&out.join("task"), 1, &spec)?;
    println!("task: {:?} in {:.2}s", s.counts, t.elapsed().as_secs_f64());
    Ok(())
}
