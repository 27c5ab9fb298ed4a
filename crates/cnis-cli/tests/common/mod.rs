//! Helpers the CLI test files share: run the real binary in a folder, read
//! what it printed and the CSV files it wrote.
#![allow(dead_code)] // each test file uses some of them

use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Output};

/// Runs `cnis` in `dir`, with no log filter or database from the caller's
/// environment.
pub fn cnis(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cnis"))
        .args(args)
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .env_remove("CNIS_DB")
        .output()
        .expect("cnis runs")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A CSV file's rows as maps from column name to value.
pub fn read_csv(path: &Path) -> Vec<HashMap<String, String>> {
    let mut rdr = csv::Reader::from_path(path).expect("csv");
    let headers: Vec<String> = rdr.headers().expect("header").iter().map(str::to_string).collect();
    rdr.records()
        .map(|r| {
            let r = r.expect("row");
            headers.iter().cloned().zip(r.iter().map(str::to_string)).collect()
        })
        .collect()
}
