//! The PyTorch side of every `vladapt bench …`: which Python runs, where the reference scripts
//! (`tools/bench/*.py`) are, the cached random checkpoint they share, and running one script to
//! read the JSON line it prints. A reference that cannot run is an `Err` the bench prints next
//! to its own numbers (the ratio is then missing), never a failed bench.
use anyhow::{bail, Context, Result};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

/// How the reference scripts run: the interpreter, its thread count, or not at all.
pub(super) struct Reference {
    /// The Python interpreter ([`python`]).
    pub python: PathBuf,
    /// Threads given to PyTorch (`--threads`).
    pub threads: usize,
    /// `--no-reference`: every run is refused with a reason saying so.
    skip: bool,
}

impl Reference {
    /// `threads` defaults to the cores available to this process.
    pub fn new(threads: Option<usize>, skip: bool) -> Self {
        Reference {
            python: python(),
            threads: threads.unwrap_or_else(|| {
                std::thread::available_parallelism()
                    .map(|n| n.get())
                    .unwrap_or(1)
            }),
            skip,
        }
    }

    /// Run a per-model reference script: `--model <model> --threads <threads> --warmup
    /// <warmup>` (the flags every such script takes) then the bench's own `flags`, and read the
    /// number fields `keys` of its JSON line, in order.
    pub fn run_on_model<const K: usize>(
        &self,
        script: &str,
        modules: &str,
        model: &Path,
        warmup: usize,
        flags: &[(&str, String)],
        keys: [&str; K],
    ) -> Result<[f64; K]> {
        let mut argv = args([
            ("--model", model.into()),
            ("--threads", self.threads.to_string().into()),
            ("--warmup", warmup.to_string().into()),
        ]);
        for (k, v) in flags {
            argv.extend([OsString::from(k), OsString::from(v)]);
        }
        let v = self.run(script, modules, &argv)?;
        let mut out = [0.0; K];
        for (o, k) in out.iter_mut().zip(keys) {
            *o = field(&v, k)?;
        }
        Ok(out)
    }

    /// Run `tools/bench/<script>` with `args` (after checking that Python imports `modules`,
    /// comma-separated) and parse the last JSON line of its output.
    pub fn run(&self, script: &str, modules: &str, args: &[OsString]) -> Result<serde_json::Value> {
        if self.skip {
            bail!("skipped (--no-reference)");
        }
        eprintln!(
            "PyTorch reference ({}, {} threads)…",
            self.python.display(),
            self.threads
        );
        self.probe(modules)?;
        let mut cmd = Command::new(&self.python);
        cmd.arg(script_path(script)?).args(args);
        let out = cmd
            .output()
            .with_context(|| format!("cannot run {}", self.python.display()))?;
        if !out.status.success() {
            bail!(
                "the PyTorch reference failed ({}): {}",
                out.status,
                last_line(&out.stderr)
            );
        }
        let stdout = String::from_utf8_lossy(&out.stdout);
        let line = stdout
            .lines()
            .rev()
            .find(|l| l.trim_start().starts_with('{'))
            .with_context(|| format!("no JSON line in the PyTorch output: {stdout}"))?;
        serde_json::from_str(line).with_context(|| format!("bad JSON from PyTorch: {line}"))
    }

    /// Check that the interpreter imports `modules`; the error names what is missing.
    fn probe(&self, modules: &str) -> Result<()> {
        let probe = Command::new(&self.python)
            .args(["-c", &format!("import {modules}")])
            .output()
            .with_context(|| format!("cannot run {}", self.python.display()))?;
        if !probe.status.success() {
            bail!(
                "{modules} not available in {} ({}); set VLADAPT_PYTHON",
                self.python.display(),
                last_line(&probe.stderr)
            );
        }
        Ok(())
    }
}

fn last_line(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .lines()
        .last()
        .unwrap_or("")
        .trim()
        .to_string()
}

/// One table row: name, our number, how to read PyTorch's from the reference's result.
pub(super) type Row<'a, T> = (&'a str, f64, fn(&T) -> f64);

/// Print `rows` (name, ours, PyTorch's) as a table with the ratio ours/PyTorch, or only our
/// column and the reason when the reference did not run.
pub(super) fn print_comparison<T>(
    ours_name: &str,
    rows: &[Row<'_, T>],
    reference: &Result<T>,
    decimals: usize,
) {
    match reference {
        Ok(r) => {
            println!(
                "{:<14} {:>16} {:>16} {:>10}",
                "", ours_name, "PyTorch", "ratio"
            );
            for (name, ours, theirs) in rows {
                let t = theirs(r);
                println!(
                    "{name:<14} {ours:>16.decimals$} {t:>16.decimals$} {:>9.2}×",
                    ours / t
                );
            }
        }
        Err(e) => {
            println!("{:<14} {:>16}", "", ours_name);
            for (name, ours, _) in rows {
                println!("{name:<14} {ours:>16.decimals$}");
            }
            println!("PyTorch reference unavailable: {e:#}");
        }
    }
}

/// A number field of a reference's JSON output.
pub(super) fn field(v: &serde_json::Value, k: &str) -> Result<f64> {
    v[k].as_f64()
        .with_context(|| format!("`{k}` missing in the PyTorch output: {v}"))
}

/// Command-line arguments from flag/value pairs (values may be paths).
pub(super) fn args<const N: usize>(pairs: [(&str, OsString); N]) -> Vec<OsString> {
    pairs
        .into_iter()
        .flat_map(|(k, v)| [OsString::from(k), v])
        .collect()
}

/// Python for the reference: $VLADAPT_PYTHON, else `python3` on PATH (activate the venv that
/// has torch/transformers/open_clip, or point VLADAPT_PYTHON at its interpreter).
pub(super) fn python() -> PathBuf {
    python_from(std::env::var_os("VLADAPT_PYTHON"))
}

fn python_from(var: Option<OsString>) -> PathBuf {
    match var {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from("python3"),
    }
}

/// `tools/bench/NAME`: $VLADAPT_BENCH_SCRIPT (embed script only), else under the current
/// directory, else in the source tree this binary was built from.
pub(super) fn script_path(name: &str) -> Result<PathBuf> {
    if name == "bench_embed_torch.py" {
        if let Some(p) = std::env::var_os("VLADAPT_BENCH_SCRIPT") {
            return Ok(PathBuf::from(p));
        }
    }
    let rel = Path::new("tools/bench").join(name);
    let candidates = [
        rel.to_path_buf(),
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(&rel),
    ];
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .with_context(|| {
            format!(
                "cannot find {} (run from the repository root or set VLADAPT_BENCH_SCRIPT)",
                rel.display()
            )
        })
}

/// `--model`, else the cached random ViT-B/32 checkpoint ($VLADAPT_BENCH_DIR, default
/// `target/bench/vitb32` under the current directory), created by the PyTorch embed script on
/// first use.
pub(super) fn model_or_checkpoint(model: Option<&Path>) -> Result<PathBuf> {
    if let Some(m) = model {
        return Ok(m.to_path_buf());
    }
    let dir = std::env::var_os("VLADAPT_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target/bench/vitb32"));
    if dir.join("model.safetensors").is_file() && dir.join("config.json").is_file() {
        return Ok(dir);
    }
    let python = python();
    let script = script_path("bench_embed_torch.py")?;
    eprintln!(
        "creating the random ViT-B/32 checkpoint in {} (once) with {}…",
        dir.display(),
        python.display()
    );
    let status = Command::new(&python)
        .arg(&script)
        .arg("--save")
        .arg(&dir)
        .arg("--save-only")
        .status()
        .with_context(|| format!("cannot run {}", python.display()))?;
    if !status.success() {
        bail!(
            "{} {} --save {} failed ({status}); pass --model DIR or set VLADAPT_PYTHON to a \
             Python with torch, transformers and open_clip",
            python.display(),
            script.display(),
            dir.display()
        );
    }
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_is_the_env_var_or_python3_on_path() {
        assert_eq!(
            python_from(Some("/opt/py/bin/python".into())),
            PathBuf::from("/opt/py/bin/python")
        );
        assert_eq!(python_from(None), PathBuf::from("python3"));
        assert_eq!(python_from(Some("".into())), PathBuf::from("python3"));
    }

    #[test]
    fn skipped_reference_says_why() {
        let r = Reference::new(Some(2), true);
        let e = r.run("bench_ground_torch.py", "torch", &[]).unwrap_err();
        assert!(format!("{e:#}").contains("--no-reference"), "{e:#}");
        assert_eq!(r.threads, 2);
    }

    #[test]
    fn flag_pairs_flatten_in_order() {
        let a = args([
            ("--batch", "4".into()),
            ("--model", PathBuf::from("m").into()),
        ]);
        assert_eq!(a, ["--batch", "4", "--model", "m"].map(OsString::from));
    }
}
