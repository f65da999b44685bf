//! Helpers shared by the CLI tests: run the built binary, temp dirs, fixture paths.
#![allow(dead_code)]
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

/// Run `vladapt --log warn ARGS…` (logs quiet so stderr holds only errors).
pub fn vladapt(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vladapt"))
        .arg("--log")
        .arg("warn")
        .args(args)
        .output()
        .expect("cannot run the vladapt binary")
}

/// Run `vladapt ARGS…` with the default log level (info messages on stderr).
pub fn vladapt_plain(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vladapt"))
        .args(args)
        .output()
        .expect("cannot run the vladapt binary")
}

/// The stdout of a run that must succeed without a panic.
pub fn ok(o: &Output) -> String {
    let err = stderr(o);
    assert!(o.status.success(), "failed: {err}");
    assert!(!err.contains("panicked"), "{err}");
    stdout(o)
}

/// The stderr of a run that must fail without a panic.
pub fn fails(o: &Output) -> String {
    let err = stderr(o);
    assert!(!o.status.success(), "succeeded: {err}");
    assert!(!err.contains("panicked"), "{err}");
    err
}

/// A UTF-8 path as an argument.
pub fn s(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A fresh, empty directory under the system temp dir (removed on drop).
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "vladapt-cli-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Self(p)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Copy the files of directory `from` (not recursive) into `to`.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.path().is_file() {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

/// Expect failure with exactly one non-empty stderr line, containing every `needles` item, and no panic.
pub fn assert_one_line_error(o: &Output, needles: &[&str]) -> String {
    let err = stderr(o);
    assert!(
        !o.status.success(),
        "expected a failure, got success; stdout: {}",
        stdout(o)
    );
    assert_eq!(o.status.code(), Some(1), "exit status; stderr: {err}");
    assert!(!err.contains("panicked"), "panic on stderr: {err}");
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "expected one stderr line, got: {err}");
    for n in needles {
        assert!(lines[0].contains(n), "stderr `{}` lacks `{n}`", lines[0]);
    }
    lines[0].to_string()
}

/// A `vladapt serve` child process, killed when dropped (a failing test leaves no server).
pub struct ServeProcess {
    pub child: std::process::Child,
    pub addr: String,
}

impl ServeProcess {
    /// Start `vladapt --log warn serve ARGS… --addr 127.0.0.1:0` and read the address it prints.
    pub fn start(args: &[&str]) -> Self {
        use std::io::BufRead;
        let mut child = Command::new(env!("CARGO_BIN_EXE_vladapt"))
            .args(["--log", "warn", "serve"])
            .args(args)
            .args(["--addr", "127.0.0.1:0"])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .trim()
            .strip_prefix("listening on http://")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_string();
        Self { child, addr }
    }

    /// Send SIGTERM and wait (at most 30 s) for the exit status.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let st = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(st.success());
        let t0 = std::time::Instant::now();
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s;
            }
            assert!(
                t0.elapsed().as_secs() < 30,
                "the server did not exit within 30 s of SIGTERM"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// One HTTP/1.1 request with `Connection: close`; returns (status, body).
pub fn http(addr: &str, method: &str, path: &str, ctype: &str, body: &[u8]) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    s.write_all(body).unwrap();
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).unwrap();
    let resp = String::from_utf8_lossy(&resp).into_owned();
    let status: u16 = resp.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = resp.split_once("\r\n\r\n").unwrap().1.to_string();
    (status, body)
}

/// A 4-class world colour task (2 train, 1 val, 1 test image per class) in `tmp/task`.
pub fn colour_task(tmp: &Path) -> PathBuf {
    let task = tmp.join("task");
    let o = vladapt(&[
        "world",
        "task",
        "--out",
        &task.to_string_lossy(),
        "--classes",
        "4",
        "--class-kind",
        "colour",
        "--style",
        "cast",
        "--train-per-class",
        "2",
        "--val-per-class",
        "1",
        "--test-per-class",
        "1",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    task
}

/// Train a 4-class CoOp run (1 epoch, 2 shots) on a generated colour task into `run`.
pub fn train_colour_run(tmp: &Path, run: &Path) {
    let task = colour_task(tmp);
    let model = fixtures().join("models/tiny-hf");
    let o = vladapt(&[
        "train",
        "--model",
        &model.to_string_lossy(),
        "--method",
        "coop",
        "--dataset",
        "vladapt",
        "--root",
        &task.to_string_lossy(),
        "--shots",
        "2",
        "--seed",
        "1",
        "--set",
        "train.schedule.max_epoch=1",
        "--output",
        &run.to_string_lossy(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
}

/// `vladapt predict --run RUN --json --top-k K IMAGES…` parsed.
pub fn predict_json(run: &Path, k: usize, images: &[PathBuf]) -> serde_json::Value {
    let mut args = vec![
        "predict".to_string(),
        "--run".into(),
        run.to_string_lossy().into_owned(),
        "--json".into(),
        "--top-k".into(),
        k.to_string(),
    ];
    args.extend(images.iter().map(|p| p.to_string_lossy().into_owned()));
    let refs: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
    let o = vladapt(&refs);
    assert!(o.status.success(), "{}", stderr(&o));
    serde_json::from_str(&stdout(&o)).unwrap()
}
