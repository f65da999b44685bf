//! Fetch error paths that need no network.
mod common;

use vladapt_data::fetch::command::run;
use vladapt_data::{fetch, DataError};

#[test]
fn missing_tool_is_named() {
    let t = common::TempDir::new("cmd");
    let e = run(
        "vladapt-no-such-tool",
        &["download", "x"],
        t.path(),
        "needed for testing",
    )
    .unwrap_err();
    assert!(matches!(e, DataError::Command { .. }));
    let msg = e.to_string();
    assert!(
        msg.contains("vladapt-no-such-tool download x") && msg.contains("not installed"),
        "{msg}"
    );
}

#[test]
fn failing_command_reports_stderr() {
    let t = common::TempDir::new("cmd2");
    let msg = run(
        "sh",
        &["-c", "echo offline-boom >&2; exit 3"],
        t.path(),
        "test",
    )
    .unwrap_err()
    .to_string();
    assert!(
        msg.contains("offline-boom") && msg.contains("exit status: 3"),
        "{msg}"
    );
}

#[test]
fn unknown_fetch_name_and_occupied_folder() {
    let t = common::TempDir::new("fe");
    let msg = fetch("cifar-10", t.path()).unwrap_err().to_string();
    assert!(
        msg.contains("cifar-10")
            && msg.contains("fashion-mnist")
            && msg.contains("textile-defects"),
        "{msg}"
    );
    std::fs::create_dir_all(t.path().join("mnist/junk")).unwrap();
    let msg = fetch("mnist", t.path()).unwrap_err().to_string();
    assert!(msg.contains("vladapt_dataset.json"), "{msg}");
}
