//! The postcode lookup the register checks a child's home against
//! (eligibility condition A: the child lives in the council's area, from
//! the home postcode, not the school's council). One row per postcode,
//! written compact (`SW1A1AA`), with the council whose area it is in; a
//! load replaces the whole lookup in one transaction and is recorded.

use serde::Serialize;

use crate::Result;
use crate::db::Tx;
use crate::db::Value;

pub(crate) const TABLES: &str = r"
CREATE TABLE postcode_areas (
    postcode      TEXT PRIMARY KEY,
    council       TEXT NOT NULL
);
CREATE TABLE postcode_area_loads (
    id            {id},
    loaded_at     BIGINT NOT NULL,
    source        TEXT NOT NULL,
    rows_read     BIGINT NOT NULL,
    loaded        BIGINT NOT NULL,
    duplicates    BIGINT NOT NULL,
    outside       BIGINT NOT NULL,
    quarantined   BIGINT NOT NULL
);
";

/// Rows a statement inserts at once (two parameters each).
const BATCH: usize = 500;

/// One load of the lookup, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PostcodeLoad {
    /// When (ms since the epoch).
    pub loaded_at: i64,
    /// The file's name (no directory).
    pub source: String,
    /// Data rows read.
    pub rows_read: i64,
    /// Postcodes loaded.
    pub loaded: i64,
    /// Rows for a postcode given before in the file (the first is kept).
    pub duplicates: i64,
    /// Rows for postcodes outside England's councils (Wales, Scotland,
    /// Northern Ireland, the Channel Islands and the Isle of Man).
    pub outside: i64,
    /// Rows refused, each with its line and reason in the quarantine.
    pub quarantined: i64,
}

/// Replaces the lookup with `rows` (compact postcode, three-digit council)
/// and records the load.
pub fn replace(tx: &mut Tx<'_>, rows: &[(String, String)], load: &PostcodeLoad) -> Result<()> {
    tx.execute("DELETE FROM postcode_areas", &[])?;
    for chunk in rows.chunks(BATCH) {
        let mut sql = String::from("INSERT INTO postcode_areas (postcode, council) VALUES ");
        let mut params = Vec::with_capacity(chunk.len() * 2);
        for (i, (postcode, council)) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push(',');
            }
            sql.push_str(&format!("(${}, ${})", 2 * i + 1, 2 * i + 2));
            params.push(Value::Text(postcode.clone()));
            params.push(Value::Text(council.clone()));
        }
        // A postcode given twice keeps its first council.
        sql.push_str(" ON CONFLICT (postcode) DO NOTHING");
        tx.execute(&sql, &params)?;
    }
    tx.execute(
        "INSERT INTO postcode_area_loads (loaded_at, source, rows_read, loaded, duplicates, outside, quarantined) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[
            Value::Int(load.loaded_at),
            Value::Text(load.source.clone()),
            Value::Int(load.rows_read),
            Value::Int(load.loaded),
            Value::Int(load.duplicates),
            Value::Int(load.outside),
            Value::Int(load.quarantined),
        ],
    )?;
    Ok(())
}

/// Every postcode and its council, in postcode order.
pub fn all(tx: &mut Tx<'_>) -> Result<Vec<(String, String)>> {
    tx.query("SELECT postcode, council FROM postcode_areas ORDER BY postcode", &[])?
        .iter()
        .map(|r| Ok((r.text(0)?, r.text(1)?)))
        .collect()
}

/// The latest load, if the lookup was ever loaded.
pub fn latest_load(tx: &mut Tx<'_>) -> Result<Option<PostcodeLoad>> {
    tx.query_opt(
        "SELECT loaded_at, source, rows_read, loaded, duplicates, outside, quarantined FROM postcode_area_loads \
         ORDER BY id DESC LIMIT 1",
        &[],
    )?
    .map(|r| {
        Ok(PostcodeLoad {
            loaded_at: r.int(0)?,
            source: r.text(1)?,
            rows_read: r.int(2)?,
            loaded: r.int(3)?,
            duplicates: r.int(4)?,
            outside: r.int(5)?,
            quarantined: r.int(6)?,
        })
    })
    .transpose()
}
