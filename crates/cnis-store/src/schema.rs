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
];
