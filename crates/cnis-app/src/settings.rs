//! Tracking settings as a TOML file a council can keep and change.

use std::path::Path;

use cnis_core::records::{DeletionGround, Regulations};
use cnis_track::{RawSettings, Settings};

use crate::{Error, Result};

/// Reads a settings file; meanings it leaves out keep their defaults.
pub fn read(path: &Path) -> Result<Settings> {
    let err = |message: String| Error::Settings { path: path.to_path_buf(), message };
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    let raw: RawSettings = toml::from_str(&text).map_err(|e| err(e.to_string()))?;
    Settings::try_from(raw).map_err(err)
}

/// The settings as a commented TOML file: every deletion ground of both
/// sets of regulations with its meaning, then what each meaning implies.
pub fn to_toml(s: &Settings) -> String {
    let mut out = String::new();
    out.push_str("# cnis tracking settings. Change a value and pass the file to `cnis track --settings`.\n");
    out.push_str("#\n# Deletion grounds and what they mean (C confirmed in the legislation, P from council forms,\n");
    out.push_str("# U our reading, not confirmed):\n");
    for regs in [Regulations::Pupil2006, Regulations::Pupil2024] {
        let name = match regs {
            Regulations::Pupil2006 => {
                "Education (Pupil Registration) (England) Regulations 2006, reg. 8(1), until 18 August 2024"
            }
            Regulations::Pupil2024 => {
                "School Attendance (Pupil Registration) (England) Regulations 2024, reg. 9(1), from 19 August 2024"
            }
        };
        out.push_str(&format!("#\n# {name}:\n"));
        for g in DeletionGround::all().filter(|g| g.regulations() == regs) {
            out.push_str(&format!(
                "#   {g:<9} [{}] {} -> {}\n",
                g.confidence().marker(),
                g.meaning().describe(),
                g.meaning().name()
            ));
        }
    }
    out.push_str("#\n# Each meaning gives a destination (home_education, cme, unknown, ...), `by_destination_code`\n");
    out.push_str("# (the notice's destination: a school, MMMMMMM abroad, XXXXXXX unknown) or `nothing`.\n");
    let raw = s.to_raw();
    match toml::to_string(&raw) {
        Ok(t) => out.push_str(&t),
        Err(e) => out.push_str(&format!("# could not write the settings: {e}\n")),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_written_file_reads_back() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("settings.toml");
        let s = Settings::default();
        std::fs::write(&path, to_toml(&s)).expect("write");
        assert_eq!(read(&path).expect("reads"), s);
        std::fs::write(&path, "grounds = { continuous_absence = \"banana\" }\nnamed_school_not_on_roll = \"unknown\"\nignore_rows_before_entry = true\n")
            .expect("write");
        let e = read(&path).expect_err("refused").to_string();
        assert!(e.contains("settings.toml") && e.contains("banana"), "{e}");
    }
}
