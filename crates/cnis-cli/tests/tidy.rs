//! House rules as tests: the dependency direction between crates, and
//! ARCHITECTURE.md naming every crate.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Crate name -> its [dependencies] (not dev-dependencies).
fn crates() -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(workspace().join("crates")).expect("crates folder") {
        let dir = entry.expect("entry").path();
        let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).expect("Cargo.toml");
        let name = dir.file_name().and_then(|n| n.to_str()).expect("name").to_string();
        let mut deps = Vec::new();
        let mut section = String::new();
        for line in manifest.lines() {
            let line = line.trim();
            if line.starts_with('[') {
                section = line.to_string();
            } else if section == "[dependencies]"
                && let Some(dep) = line.split(['=', '.', ' ']).next().filter(|d| !d.is_empty())
            {
                deps.push(dep.to_string());
            }
        }
        assert!(manifest.contains(&format!("name = \"{name}\"")), "{name}: folder name must be the package name");
        out.insert(name, deps);
    }
    out
}

#[test]
fn dependencies_point_one_way() {
    // What each crate may depend on inside the workspace.
    let allowed: &[(&str, &[&str])] = &[
        ("cnis-core", &[]),
        ("cnis-synth", &["cnis-core"]),
        ("cnis-ingest", &["cnis-core"]),
        ("cnis-track", &["cnis-core"]),
        ("cnis-store", &["cnis-core"]),
        ("cnis-link", &["cnis-core"]),
        ("cnis-app", &["cnis-core", "cnis-ingest", "cnis-track", "cnis-store", "cnis-link"]),
        ("cnis-server", &["cnis-core", "cnis-app"]),
        (
            "cnis-cli",
            &[
                "cnis-core",
                "cnis-synth",
                "cnis-ingest",
                "cnis-track",
                "cnis-store",
                "cnis-link",
                "cnis-app",
                "cnis-server",
            ],
        ),
    ];
    // Frameworks that belong to one crate only.
    let owned: &[(&str, &str)] = &[
        ("clap", "cnis-cli"),
        ("indicatif", "cnis-cli"),
        ("tracing-subscriber", "cnis-cli"),
        ("anyhow", "cnis-cli"),
        ("rusqlite", "cnis-store"),
        ("postgres", "cnis-store"),
        ("argon2", "cnis-app"),
    ];
    let crates = crates();
    for (name, deps) in &crates {
        let rule = allowed.iter().find(|(n, _)| n == name);
        let Some((_, may)) = rule else {
            panic!("{name} is not in the dependency rules of this test and ARCHITECTURE.md")
        };
        for d in deps.iter().filter(|d| d.starts_with("cnis-")) {
            assert!(may.contains(&d.as_str()), "{name} may not depend on {d}");
        }
        for (framework, owner) in owned {
            if deps.contains(&framework.to_string()) {
                assert_eq!(name, owner, "only {owner} may use {framework}");
            }
        }
    }
}

#[test]
fn architecture_names_every_crate() {
    let arch = std::fs::read_to_string(workspace().join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    for name in crates().keys() {
        assert!(arch.contains(&format!("`{name}`")), "ARCHITECTURE.md does not describe {name}");
    }
}

#[test]
fn every_library_crate_says_what_it_is_for() {
    for name in crates().keys().filter(|n| *n != "cnis-cli") {
        let lib = std::fs::read_to_string(workspace().join("crates").join(name).join("src/lib.rs")).expect("lib.rs");
        assert!(lib.starts_with("//!"), "{name}/src/lib.rs must start with a //! paragraph on its job");
    }
}

/// docs/method.md lists every deletion ground of both sets of regulations
/// with the meaning and the default reading the code gives it.
#[test]
fn the_method_document_lists_every_ground_as_the_code_reads_it() {
    use cnis_core::records::DeletionGround;
    use cnis_track::{GroundReading, Settings};
    let doc = std::fs::read_to_string(workspace().join("docs/method.md")).expect("docs/method.md");
    let settings = Settings::default();
    for g in DeletionGround::all() {
        let row = doc
            .lines()
            .find(|l| l.starts_with(&format!("| {g} |")))
            .unwrap_or_else(|| panic!("docs/method.md has no row for {g}"));
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        assert_eq!(cells[2], g.meaning().describe(), "{g}");
        assert_eq!(cells[4], format!("`{}`", g.meaning().name()), "{g}");
        let reading = settings.reading(g.meaning());
        let says = match reading {
            GroundReading::Destination(d) => d.name(),
            GroundReading::ByDestinationCode => "destination code",
            GroundReading::Nothing => "nothing",
        };
        let words = match says {
            "another_school" => "another state school",
            "home_education" => "home education",
            other => other,
        };
        assert!(cells[5].contains(words), "{g}: the document says {:?}, the code {says}", cells[5]);
    }
}
