//! The register's pages in a real browser. Runs `tests/browser/setup.sh`
//! (Debian's Chromium at /usr/bin/chromium and the npm packages pinned in
//! `tests/browser/package-lock.json`), then the Node tests in
//! `tests/browser/register.test.mjs` against the `cnis` binary built for
//! this test: the demo's register served by `cnis serve`, signed into,
//! searched, edited and confirmed in headless Chromium, every main page
//! checked with axe-core. It fails, never skips, when either step fails, and
//! prints their output. Screenshots land in `target/browser-artifacts`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The workspace root.
fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A finished command's status and output, for a failure message or a log.
fn report(what: &str, out: &Output) -> String {
    format!(
        "{what}: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn the_register_pages_work_in_a_browser() {
    let root = workspace();
    let setup = Command::new("bash")
        .arg(root.join("tests/browser/setup.sh"))
        .current_dir(&root)
        .output()
        .expect("bash runs tests/browser/setup.sh");
    assert!(setup.status.success(), "the browser tests' setup failed\n{}", report("tests/browser/setup.sh", &setup));

    let artifacts = root.join("target/browser-artifacts");
    let run = Command::new("node")
        .args(["--test", "tests/browser/register.test.mjs"])
        .current_dir(&root)
        .env("CNIS_BIN", env!("CARGO_BIN_EXE_cnis"))
        .env("CNIS_ARTIFACTS", &artifacts)
        // The tracking run must come from the demo's own output.
        .env_remove("CNIS_TRACKING_RUN")
        .output()
        .expect("node runs (Node 20 or later is needed for tests/browser)");
    let text = report("node --test tests/browser/register.test.mjs", &run);
    assert!(run.status.success(), "the browser tests failed (screenshots in {})\n{text}", artifacts.display());
    eprintln!("{text}");
}
