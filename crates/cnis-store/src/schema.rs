//! Migrations, applied in order; `PRAGMA user_version` records how many ran.

/// Each entry is one migration. Never edit a released one: add another.
pub const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE loads (
    id            INTEGER PRIMARY KEY,
    kind          TEXT NOT NULL,
    file          TEXT NOT NULL,
    loaded_at     TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    rows_in       INTEGER NOT NULL DEFAULT 0,
    accepted      INTEGER NOT NULL DEFAULT 0,
    quarantined   INTEGER NOT NULL DEFAULT 0
);
-- A census's pupils are written in one transaction, so they occupy one
-- range of rowids: queries read that range in order instead of going
-- through an index (sequential reads, and no index to build on load).
CREATE TABLE censuses (
    id            INTEGER PRIMARY KEY,
    census_date   TEXT NOT NULL UNIQUE,
    load_id       INTEGER NOT NULL REFERENCES loads(id),
    first_row     INTEGER NOT NULL DEFAULT 0,
    last_row      INTEGER NOT NULL DEFAULT -1
);
CREATE TABLE census_pupils (
    census_id     INTEGER NOT NULL REFERENCES censuses(id),
    upn           TEXT NOT NULL,
    former_upn    TEXT,
    surname       TEXT NOT NULL,
    forename      TEXT NOT NULL,
    middle_names  TEXT,
    former_surname TEXT,
    dob           TEXT NOT NULL,
    sex           TEXT NOT NULL,
    ethnicity     TEXT,
    laestab       INTEGER NOT NULL,
    enrol_status  TEXT,
    entry_date    TEXT,
    nc_year       INTEGER,
    address_line1 TEXT,
    town          TEXT,
    postcode      TEXT,
    fsm           INTEGER NOT NULL,
    sen           TEXT NOT NULL,
    sen_need      TEXT,
    sessions_possible     INTEGER,
    sessions_authorised   INTEGER,
    sessions_unauthorised INTEGER
);
CREATE TABLE source_records (
    load_id       INTEGER NOT NULL REFERENCES loads(id),
    kind          TEXT NOT NULL,
    la            INTEGER,
    laestab       INTEGER,
    local_id      TEXT,
    upn           TEXT,
    surname       TEXT,
    forename      TEXT,
    dob           TEXT,
    sex           TEXT,
    postcode      TEXT,
    date          TEXT,
    deletion_ground TEXT,
    destination   TEXT,
    status        TEXT
);
CREATE INDEX source_records_upn ON source_records(upn);
CREATE TABLE schools (
    urn           INTEGER PRIMARY KEY,
    laestab       INTEGER NOT NULL,
    name          TEXT,
    phase         TEXT,
    sector        TEXT NOT NULL
);
CREATE TABLE postcode_deprivation (
    postcode      TEXT PRIMARY KEY,
    lsoa          TEXT,
    imd_decile    INTEGER NOT NULL
);
-- A child id is stored as its number (ChildId::payload); it is shown in
-- its check-character form only at the edge.
CREATE TABLE children (
    child_id      INTEGER PRIMARY KEY,
    created_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);
CREATE TABLE child_upns (
    upn           TEXT PRIMARY KEY,
    child_id      INTEGER NOT NULL REFERENCES children(child_id),
    first_census  INTEGER REFERENCES censuses(id)
) WITHOUT ROWID;
CREATE TABLE tracking_runs (
    id            INTEGER PRIMARY KEY,
    census_a      INTEGER NOT NULL REFERENCES censuses(id),
    census_b      INTEGER NOT NULL REFERENCES censuses(id),
    run_at        TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    leavers       INTEGER NOT NULL
);
CREATE TABLE leavers (
    run_id        INTEGER NOT NULL REFERENCES tracking_runs(id),
    child_id      INTEGER,
    upn           TEXT NOT NULL,
    la            INTEGER NOT NULL,
    laestab       INTEGER NOT NULL,
    nc_year       INTEGER,
    destination   TEXT NOT NULL,
    evidence      TEXT NOT NULL,
    absence       TEXT,
    sen           TEXT NOT NULL,
    fsm           INTEGER NOT NULL,
    more_deprived_half INTEGER,
    social_care   TEXT
);
"#,
    r#"
-- Linkage: each linked record's child id, the runs that assigned them, and
-- every merge, split and new child as an event.
CREATE TABLE link_runs (
    id            INTEGER PRIMARY KEY,
    run_at        TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    records       INTEGER NOT NULL,
    children      INTEGER NOT NULL
);
CREATE TABLE link_records (
    source        TEXT NOT NULL,
    record_id     TEXT NOT NULL,
    child_id      INTEGER NOT NULL REFERENCES children(child_id),
    run_id        INTEGER NOT NULL REFERENCES link_runs(id),
    PRIMARY KEY (source, record_id)
) WITHOUT ROWID;
-- Reviewers' decisions on pairs, with each record's fingerprint when
-- decided: a decision stops applying once either record changes.
CREATE TABLE link_decisions (
    source_l      TEXT NOT NULL,
    record_id_l   TEXT NOT NULL,
    source_r      TEXT NOT NULL,
    record_id_r   TEXT NOT NULL,
    decision      TEXT NOT NULL CHECK (decision IN ('same', 'different')),
    fingerprint_l INTEGER NOT NULL,
    fingerprint_r INTEGER NOT NULL,
    decided_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    PRIMARY KEY (source_l, record_id_l, source_r, record_id_r)
) WITHOUT ROWID;
CREATE TABLE link_events (
    run_id        INTEGER NOT NULL REFERENCES link_runs(id),
    kind          TEXT NOT NULL,
    child_id      INTEGER NOT NULL,
    other_child_id INTEGER,
    records       INTEGER
);
"#,
    r#"
-- Issue 6: keep every row, account for every load.
--
-- A census row whose UPN fails its check is kept (upn NULL, upn_text as
-- written), and so is one with a bad date of birth, name or school: the
-- table is rebuilt with those columns nullable, rowids kept so each
-- census's pupils stay in one range.
CREATE TABLE census_pupils_v3 (
    census_id     INTEGER NOT NULL REFERENCES censuses(id),
    upn           TEXT,
    former_upn    TEXT,
    surname       TEXT,
    forename      TEXT,
    middle_names  TEXT,
    former_surname TEXT,
    dob           TEXT,
    sex           TEXT NOT NULL,
    ethnicity     TEXT,
    laestab       INTEGER,
    enrol_status  TEXT,
    entry_date    TEXT,
    nc_year       INTEGER,
    address_line1 TEXT,
    town          TEXT,
    postcode      TEXT,
    fsm           INTEGER NOT NULL,
    sen           TEXT NOT NULL,
    sen_need      TEXT,
    sessions_possible     INTEGER,
    sessions_authorised   INTEGER,
    sessions_unauthorised INTEGER,
    upn_text      TEXT,
    postcode_text TEXT
);
INSERT INTO census_pupils_v3 (rowid, census_id, upn, former_upn, surname, forename, middle_names, former_surname,
    dob, sex, ethnicity, laestab, enrol_status, entry_date, nc_year, address_line1, town, postcode, fsm, sen,
    sen_need, sessions_possible, sessions_authorised, sessions_unauthorised)
SELECT rowid, census_id, upn, former_upn, surname, forename, middle_names, former_surname,
    dob, sex, ethnicity, laestab, enrol_status, entry_date, nc_year, address_line1, town, postcode, fsm, sen,
    sen_need, sessions_possible, sessions_authorised, sessions_unauthorised FROM census_pupils;
DROP TABLE census_pupils;
ALTER TABLE census_pupils_v3 RENAME TO census_pupils;

ALTER TABLE source_records ADD COLUMN urn INTEGER;
ALTER TABLE source_records ADD COLUMN upn_text TEXT;
ALTER TABLE source_records ADD COLUMN middle_names TEXT;
ALTER TABLE source_records ADD COLUMN postcode_text TEXT;
ALTER TABLE source_records ADD COLUMN end_date TEXT;
ALTER TABLE source_records ADD COLUMN provider TEXT;
ALTER TABLE source_records ADD COLUMN hours REAL;
CREATE INDEX source_records_load ON source_records(load_id);

-- What each load was: the file's size and BLAKE3 hash (a file loaded twice is
-- refused), rows rejected and fields at fault, the regulations stated.
ALTER TABLE loads ADD COLUMN rejected INTEGER NOT NULL DEFAULT 0;
ALTER TABLE loads ADD COLUMN faults INTEGER NOT NULL DEFAULT 0;
ALTER TABLE loads ADD COLUMN bytes INTEGER;
ALTER TABLE loads ADD COLUMN content_hash TEXT;
ALTER TABLE loads ADD COLUMN regulations INTEGER;
ALTER TABLE loads ADD COLUMN census_date TEXT;
-- A load stops counting when a later one replaces it or it is unloaded; its
-- row stays, so the history of what was loaded is kept.
ALTER TABLE loads ADD COLUMN replaced_by INTEGER REFERENCES loads(id);
ALTER TABLE loads ADD COLUMN unloaded_at TEXT;
UPDATE loads SET rejected = quarantined;
UPDATE loads SET census_date = (SELECT census_date FROM censuses WHERE censuses.load_id = loads.id);
CREATE INDEX loads_content_hash ON loads(content_hash);

-- The census row a UPN was first seen on: a former UPN joins a new UPN to
-- its child only when that row and the new one describe the same child.
ALTER TABLE child_upns ADD COLUMN first_row INTEGER;

-- Leavers: a leaver's UPN may have failed its check; how the destination
-- was found, with what probability, and any conflicting evidence.
CREATE TABLE leavers_v3 (
    run_id        INTEGER NOT NULL REFERENCES tracking_runs(id),
    child_id      INTEGER,
    upn           TEXT,
    la            INTEGER,
    laestab       INTEGER,
    nc_year       INTEGER,
    destination   TEXT NOT NULL,
    evidence      TEXT NOT NULL,
    absence       TEXT,
    sen           TEXT NOT NULL,
    fsm           INTEGER NOT NULL,
    more_deprived_half INTEGER,
    social_care   TEXT,
    matched_by    TEXT,
    match_probability REAL,
    conflict      TEXT
);
INSERT INTO leavers_v3 (run_id, child_id, upn, la, laestab, nc_year, destination, evidence, absence, sen, fsm,
    more_deprived_half, social_care)
SELECT run_id, child_id, upn, la, laestab, nc_year, destination, evidence, absence, sen, fsm,
    more_deprived_half, social_care FROM leavers;
DROP TABLE leavers;
ALTER TABLE leavers_v3 RENAME TO leavers;
CREATE INDEX leavers_run ON leavers(run_id);
ALTER TABLE tracking_runs ADD COLUMN linked INTEGER NOT NULL DEFAULT 0;
"#,
];
