//! The web page of `vladapt serve` in a real headless Chromium (WebDriver through chromedriver):
//! the page loads and lists the adapters, two images uploaded through the file input come back
//! with the same classes and probabilities as `vladapt predict`, the adapter shows as loaded,
//! and a screenshot is saved as a test artifact.
//!
//! Needs `chromium` and `chromedriver` (Debian: `chromium chromium-driver`, installed by
//! `.ci/run`). Under CI (`CI` set) their absence fails the test; elsewhere it is skipped with a
//! printed reason.
mod common;

use common::*;
use fantoccini::{ClientBuilder, Locator};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn on_path(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    for dir in std::env::split_paths(&path) {
        for n in names {
            let p = dir.join(n);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

/// Kills chromedriver when dropped.
struct Driver(std::process::Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_page_upload_in_headless_chromium_matches_predict() {
    let browser = on_path(&["chromium", "chromium-browser", "google-chrome"]);
    let driver = on_path(&["chromedriver"]);
    let (Some(browser), Some(driver)) = (browser, driver) else {
        let why = "chromium and chromedriver not found on PATH (Debian: apt-get install chromium chromium-driver)";
        if std::env::var_os("CI").is_some() {
            panic!("{why}; the browser test must run in CI");
        }
        eprintln!("SKIPPED web_page_upload_in_headless_chromium_matches_predict: {why}");
        return;
    };

    // A trained adapter in a directory of runs, and what `vladapt predict` says.
    let tmp = TempDir::new("serve-browser");
    let runs = tmp.0.join("runs");
    let run = runs.join("colours");
    train_colour_run(&tmp.0, &run);
    let images = vec![
        fixtures().join("images/odd_57x41.png"),
        fixtures().join("images/img2_32x32.png"),
    ];
    let want = predict_json(&run, 4, &images);

    let model = fixtures().join("models/tiny-hf");
    let srv = ServeProcess::start(&[
        "--model",
        &model.to_string_lossy(),
        "--adapters",
        &runs.to_string_lossy(),
        "--classes",
        "a cat,a dog",
    ]);

    // chromedriver on a free port.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let _driver = Driver(
        Command::new(&driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let t0 = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "chromedriver did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": browser,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1100,1000"]
        }),
    );
    let c = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("cannot start a Chromium session");

    let result = async {
        c.goto(&format!("http://{}/", srv.addr)).await?;
        assert_eq!(c.title().await?, "vladapt");
        // The adapters list and the picker fill in from /v1/adapters.
        let opt = c
            .wait()
            .at_most(Duration::from_secs(20))
            .for_element(Locator::Css("#adapter option[value=\"colours\"]"))
            .await?;
        assert!(opt.text().await?.contains("coop"));
        let row = c
            .find(Locator::Css("#adapters tr[data-name=\"colours\"] .state"))
            .await?;
        assert_eq!(row.text().await?, "on disk");

        c.find(Locator::Css("#adapter"))
            .await?
            .select_by_value("colours")
            .await?;
        let topk = c.find(Locator::Css("#topk")).await?;
        topk.clear().await?;
        topk.send_keys("4").await?;
        let paths: Vec<String> = images
            .iter()
            .map(|p| p.canonicalize().unwrap().to_string_lossy().into_owned())
            .collect();
        c.find(Locator::Css("#file"))
            .await?
            .send_keys(&paths.join("\n"))
            .await?;
        c.wait()
            .at_most(Duration::from_secs(30))
            .for_element(Locator::XPath("//p[@id='status'][text()='done']"))
            .await?;

        // Each result lists the classes and probabilities `vladapt predict` printed.
        let results = c.find_all(Locator::Css(".result")).await?;
        assert_eq!(results.len(), 2);
        for (res, w) in results.iter().zip(want.as_array().unwrap()) {
            let rows = res.find_all(Locator::Css("tr.pred")).await?;
            let w = w["predictions"].as_array().unwrap();
            assert_eq!(rows.len(), w.len());
            for (r, wp) in rows.iter().zip(w) {
                assert_eq!(
                    r.attr("data-class").await?.unwrap(),
                    wp["class"].as_str().unwrap()
                );
                let p: f64 = r.attr("data-prob").await?.unwrap().parse().unwrap();
                let q = wp["probability"].as_f64().unwrap();
                assert!((p - q).abs() < 1e-6, "{p} vs {q}");
            }
        }
        // After use, the adapter shows as loaded.
        c.wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::XPath(
                "//tr[@data-name='colours']/td[@class='state'][text()='loaded']",
            ))
            .await?;

        let png = c.screenshot().await?;
        assert!(
            png.starts_with(b"\x89PNG") && png.len() > 2000,
            "screenshot of {} bytes",
            png.len()
        );
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("artifacts");
        std::fs::create_dir_all(&dir).unwrap();
        let out = dir.join("serve_page.png");
        std::fs::write(&out, &png).unwrap();
        eprintln!("screenshot saved to {}", out.display());
        Ok::<(), fantoccini::error::CmdError>(())
    }
    .await;
    let _ = c.close().await;
    result.unwrap();
    assert!(srv.terminate().success());
}
