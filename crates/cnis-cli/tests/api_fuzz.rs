//! The API fuzz test: `tests/api-fuzz/run.sh` serves a demo register with
//! this build's `cnis` and runs schemathesis against the OpenAPI document
//! once per role, checking that no answer is a server error and that every
//! status, content type, header and body is the one the document gives.
//! The first run installs the pinned Python packages from PyPI into
//! `target/api-fuzz-venv`; a run takes a few minutes. It fails, and never
//! skips, when anything in it fails, and prints what the script printed.

use std::path::Path;
use std::process::Command;

#[test]
fn every_role_gets_the_answers_the_openapi_document_gives() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = Command::new("bash")
        .arg(root.join("tests/api-fuzz/run.sh"))
        .current_dir(&root)
        .env("CNIS_BIN", env!("CARGO_BIN_EXE_cnis"))
        .output()
        .expect("bash runs tests/api-fuzz/run.sh");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "tests/api-fuzz/run.sh failed ({}):\n{text}", out.status);
}
