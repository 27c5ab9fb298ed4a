//! Mapping our field names to the columns of somebody else's file.

use std::collections::HashMap;

use crate::Error;

/// Our field name -> their column name, for the fields that differ.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ColumnMap(HashMap<String, String>);

impl ColumnMap {
    /// Parses `upn=PupilUPN,dob=DateOfBirth`. Field names are checked when
    /// the map is applied to a file kind.
    pub fn parse(s: &str) -> Result<Self, Error> {
        let mut m = HashMap::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (ours, theirs) = part
                .split_once('=')
                .ok_or_else(|| Error::Map(format!("{part:?} is not of the form our_field=their_column")))?;
            let (ours, theirs) = (ours.trim(), theirs.trim());
            if ours.is_empty() || theirs.is_empty() {
                return Err(Error::Map(format!("{part:?} has an empty side")));
            }
            if m.insert(ours.to_ascii_lowercase(), theirs.to_string()).is_some() {
                return Err(Error::Map(format!("field `{ours}` is mapped twice")));
            }
        }
        Ok(ColumnMap(m))
    }

    /// Merges several `--map` values; a field mapped twice is an error.
    pub fn merge(maps: &[ColumnMap]) -> Result<ColumnMap, Error> {
        let mut m = HashMap::new();
        for x in maps {
            for (k, v) in &x.0 {
                if m.insert(k.clone(), v.clone()).is_some_and(|old| old != *v) {
                    return Err(Error::Map(format!("field `{k}` is mapped twice")));
                }
            }
        }
        Ok(ColumnMap(m))
    }

    /// The column the user named for `field`, if they named one.
    pub(crate) fn mapped(&self, field: &str) -> Option<&str> {
        self.0.get(field).map(String::as_str)
    }

    /// Fails if the map names a field not in `fields`.
    pub(crate) fn check(&self, fields: &[&str]) -> Result<(), Error> {
        let mut unknown: Vec<&String> = self.0.keys().filter(|k| !fields.contains(&k.as_str())).collect();
        unknown.sort();
        match unknown.first() {
            None => Ok(()),
            Some(f) => {
                Err(Error::Map(format!("no field `{f}` in this kind of file; the fields are {}", fields.join(", "))))
            }
        }
    }
}
