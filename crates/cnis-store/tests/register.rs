//! The register's storage, run on SQLite always and on PostgreSQL when
//! `DATABASE_URL` is set (each test in a schema of its own, dropped at the
//! end). A `DATABASE_URL` that does not answer fails the tests: CI sets it
//! to the server it expects.

use cnis_core::register::{EntryContent, EntrySource, EntryStatus, LeaveReason, RestrictedContent, Role};
use cnis_core::{ChildId, LaCode};
use cnis_store::Error;
use cnis_store::audit::{self, Event, Head};
use cnis_store::db::{Backend, Db, Value};
use cnis_store::register::{self, Change, EntryUpdate, NewUser, SearchKeys};

struct TestDb {
    name: &'static str,
    db: Db,
    _dir: Option<tempfile::TempDir>,
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let _ = self.db.drop_schema();
    }
}

fn backends() -> Vec<TestDb> {
    let dir = tempfile::tempdir().expect("temp dir");
    let sqlite = Db::open(Backend::Sqlite(dir.path().join("register.db"))).expect("open SQLite");
    register::migrate(&sqlite).expect("migrate SQLite");
    let mut out = vec![TestDb { name: "sqlite", db: sqlite, _dir: Some(dir) }];
    if let Ok(url) = std::env::var("DATABASE_URL") {
        let schema = format!("t{}", ChildId::random(&mut rand::rng()).payload());
        let pg = Db::open(Backend::Postgres { url, schema: Some(schema) })
            .expect("DATABASE_URL is set but PostgreSQL did not answer");
        register::migrate(&pg).expect("migrate PostgreSQL");
        out.push(TestDb { name: "postgres", db: pg, _dir: None });
    }
    out
}

fn council() -> LaCode {
    LaCode::parse("202").expect("LA")
}

fn content(given: &str, family: &str, dob: &str) -> EntryContent {
    EntryContent {
        given_name: given.into(),
        family_name: family.into(),
        dob: dob.into(),
        postcode: Some("XA1 2BC".into()),
        ..EntryContent::default()
    }
}

fn user(db: &Db, email: &str, role: Role) -> i64 {
    db.write(|tx| {
        register::insert_user(
            tx,
            &NewUser { email, name: email, role, council: Some(council()), school: None, password_hash: None },
        )
    })
    .expect("user")
}

#[test]
fn migrations_run_twice_and_seed_every_council() {
    for t in backends() {
        register::migrate(&t.db).expect("second migration");
        let n = t.db.read(|tx| tx.query_one("SELECT COUNT(*) FROM councils", &[])?.int(0)).expect("count");
        assert_eq!(n, LaCode::live().count() as i64, "{}", t.name);
        assert!(n >= 150, "{}: {n} councils", t.name);
    }
}

#[test]
fn every_change_keeps_who_when_why_and_the_values_before() {
    for t in backends() {
        let db = &t.db;
        let by = user(db, "a@example.invalid", Role::Caseworker);
        let child = ChildId::from_payload(42);
        let change = Change { by, reason: "created by hand", at: 1_000 };
        let e = db
            .write(|tx| {
                register::insert_entry(
                    tx,
                    council(),
                    child,
                    EntryStatus::Draft,
                    EntrySource::Hand,
                    &content("Amira", "Khan", "2012-03-04"),
                    change,
                )
            })
            .expect("insert");
        assert_eq!(e.version, 1, "{}", t.name);

        // A second live entry for the same child in the same council is refused.
        let dup = db.write(|tx| {
            register::insert_entry(
                tx,
                council(),
                child,
                EntryStatus::Draft,
                EntrySource::Hand,
                &content("Amira", "Khan", "2012-03-04"),
                change,
            )
        });
        assert!(matches!(dup, Err(Error::Duplicate(_))), "{}: {dup:?}", t.name);

        let mut c2 = e.content.clone();
        c2.family_name = "Khan-Ahmed".into();
        let update = EntryUpdate {
            status: EntryStatus::Registered,
            content: c2,
            left_on: None,
            left_reason: None,
            retain_until: None,
        };
        let e2 = db
            .write(|tx| {
                register::update_entry(tx, e.id, 1, &update, "confirmed", Change { by, reason: "checked", at: 2_000 })
            })
            .expect("update");
        assert_eq!(e2.version, 2);
        assert_eq!(e2.status, EntryStatus::Registered);

        // An edit made from version 1 is refused and changes nothing.
        let stale = db.write(|tx| {
            register::update_entry(tx, e.id, 1, &update, "edited", Change { by, reason: "late", at: 3_000 })
        });
        assert!(matches!(stale, Err(Error::Conflict { expected: 1, found: 2 })), "{}: {stale:?}", t.name);

        let restricted = RestrictedContent { child_protection_plan: Some(true), ..RestrictedContent::default() };
        db.write(|tx| {
            register::set_restricted(tx, &e2, &restricted, Change { by, reason: "from social care", at: 4_000 })
        })
        .expect("restricted");

        let (open, closed) = db
            .read(|tx| Ok((register::entry_history(tx, e.id, false)?, register::entry_history(tx, e.id, true)?)))
            .expect("history");
        assert_eq!(open.len(), 2, "{}", t.name);
        assert_eq!(closed.len(), 3, "{}", t.name);
        let h = &open[1];
        assert_eq!((h.changed_by, h.changed_at, h.reason.as_str()), (by, 2_000, "checked"));
        assert!(h.before.as_deref().is_some_and(|b| b.contains("\"Khan\"")), "{}: the values before", t.name);
        assert!(h.after.as_deref().is_some_and(|a| a.contains("Khan-Ahmed")));
        assert!(
            open.iter().all(|h| !h.after.as_deref().unwrap_or("").contains("child_protection")),
            "optional content never in the entry's own history"
        );
        let back = db.read(|tx| register::restricted(tx, e.id)).expect("read restricted");
        assert_eq!(back, restricted);

        // Leaving the register keeps the entry and frees the child for a new one.
        let leave = EntryUpdate {
            status: EntryStatus::Left,
            content: e2.content.clone(),
            left_on: chrono::NaiveDate::from_ymd_opt(2026, 6, 26),
            left_reason: Some(LeaveReason::MovedAway),
            retain_until: chrono::NaiveDate::from_ymd_opt(2030, 6, 26),
        };
        db.write(|tx| register::update_entry(tx, e.id, 2, &leave, "left", Change { by, reason: "moved", at: 5_000 }))
            .expect("leave");
        db.write(|tx| {
            register::insert_entry(
                tx,
                council(),
                child,
                EntryStatus::Draft,
                EntrySource::Hand,
                &content("Amira", "Khan", "2012-03-04"),
                change,
            )
        })
        .expect("a new entry after the old one left");
    }
}

#[test]
fn search_candidates_share_a_key_and_stay_in_their_council() {
    for t in backends() {
        let db = &t.db;
        let by = user(db, "b@example.invalid", Role::Caseworker);
        let other = LaCode::parse("203").expect("LA");
        db.write(|tx| {
            let c = Change { by, reason: "test", at: 1 };
            register::insert_entry(
                tx,
                council(),
                ChildId::from_payload(1),
                EntryStatus::Registered,
                EntrySource::Hand,
                &content("John", "Smith", "2011-01-01"),
                c,
            )?;
            register::insert_entry(
                tx,
                council(),
                ChildId::from_payload(2),
                EntryStatus::Registered,
                EntrySource::Hand,
                &content("Zara", "Jones", "2012-02-02"),
                c,
            )?;
            register::insert_entry(
                tx,
                other,
                ChildId::from_payload(3),
                EntryStatus::Registered,
                EntrySource::Hand,
                &content("Jon", "Smyth", "2011-01-01"),
                c,
            )?;
            Ok(())
        })
        .expect("entries");
        let keys = SearchKeys { family_key: cnis_core::names::soundex("Smyth"), ..SearchKeys::default() };
        let here = db.read(|tx| register::search_candidates(tx, Some(council()), &keys, 100)).expect("search");
        assert_eq!(here.len(), 1, "{}", t.name);
        assert_eq!(here[0].content.given_name, "John");
        // Across England a name's sound alone finds no one; both names do.
        let alone = db.read(|tx| register::search_candidates(tx, None, &keys, 100)).expect("search");
        assert!(alone.is_empty(), "{}", t.name);
        let both = SearchKeys { given_key: cnis_core::names::soundex("Jon"), ..keys.clone() };
        let everywhere = db.read(|tx| register::search_candidates(tx, None, &both, 100)).expect("search");
        assert_eq!(everywhere.len(), 2, "{}", t.name);
        let none = db
            .read(|tx| register::search_candidates(tx, Some(council()), &SearchKeys::default(), 100))
            .expect("search");
        assert!(none.is_empty());
    }
}

fn event(i: i64, child: &str) -> Event {
    Event {
        at: 1_000 + i,
        actor: Some(7),
        actor_role: "caseworker".into(),
        council: Some("202".into()),
        action: "child.read".into(),
        outcome: "ok".into(),
        subjects: vec![child.into()],
        detail: serde_json::json!({ "i": i }),
    }
}

fn chain_of(db: &Db, n: i64) -> Head {
    let events: Vec<Event> = (0..n).map(|i| event(i, &format!("C{}", i % 3))).collect();
    db.write(|tx| audit::append(tx, &events)).expect("append")
}

fn broken_at(db: &Db, checkpoint: Option<&Head>) -> Option<i64> {
    db.read(|tx| audit::verify(tx, checkpoint)).expect("verify").first_broken.map(|(s, _)| s)
}

#[test]
fn the_audit_chain_verifies_and_catches_every_kind_of_tampering() {
    for t in backends() {
        let db = &t.db;
        let head = chain_of(db, 10);
        assert_eq!(head.seq, 10);
        let v = db.read(|tx| audit::verify(tx, Some(&head))).expect("verify");
        assert_eq!((v.rows, v.first_broken.clone()), (10, None), "{}", t.name);

        // A changed field.
        db.write(|tx| tx.execute("UPDATE audit_chain SET actor = 8 WHERE seq = 4", &[])).expect("tamper");
        assert_eq!(broken_at(db, Some(&head)), Some(4), "{}: changed row", t.name);
        db.write(|tx| tx.execute("UPDATE audit_chain SET actor = 7 WHERE seq = 4", &[])).expect("restore");
        assert_eq!(broken_at(db, Some(&head)), None);

        // Content deleted by retention is not a break; content cut by hand is.
        db.write(|tx| audit::redact_before(tx, 1_003, 9_999).map(|_| ())).expect("redact");
        assert_eq!(broken_at(db, Some(&head)), None, "{}: redacted content", t.name);
        let left = db.read(|tx| tx.query_one("SELECT COUNT(*) FROM audit_content", &[])?.int(0)).expect("count");
        assert_eq!(left, 7, "{}: events 1 to 3 lost their content", t.name);
        db.write(|tx| tx.execute("DELETE FROM audit_content WHERE seq = 9", &[])).expect("tamper");
        assert_eq!(broken_at(db, Some(&head)), Some(9), "{}: content cut without retention", t.name);

        // Changed content.
        db.write(|tx| tx.execute("UPDATE audit_content SET content = '{}' WHERE seq = 6", &[])).expect("tamper");
        assert_eq!(broken_at(db, Some(&head)), Some(6), "{}: changed content", t.name);
    }
    for t in backends() {
        let db = &t.db;
        let head = chain_of(db, 10);
        // A deleted row in the middle.
        db.write(|tx| tx.execute("DELETE FROM audit_chain WHERE seq = 5", &[])).expect("tamper");
        assert_eq!(broken_at(db, Some(&head)), Some(5), "{}: deleted row", t.name);
    }
    for t in backends() {
        let db = &t.db;
        let head = chain_of(db, 10);
        // Two rows swapped (their sequence numbers exchanged).
        db.write(|tx| {
            tx.execute("UPDATE audit_chain SET seq = -3 WHERE seq = 3", &[])?;
            tx.execute("UPDATE audit_chain SET seq = 3 WHERE seq = 7", &[])?;
            tx.execute("UPDATE audit_chain SET seq = 7 WHERE seq = -3", &[])
        })
        .expect("tamper");
        assert_eq!(broken_at(db, Some(&head)), Some(3), "{}: reordered rows", t.name);
    }
    for t in backends() {
        let db = &t.db;
        let checkpoint = chain_of(db, 10);
        // The last rows cut and the head set back to match: only the
        // checkpoint outside the table can tell.
        db.write(|tx| {
            tx.execute("DELETE FROM audit_chain WHERE seq > 8", &[])?;
            let h = tx.query_one("SELECT hash FROM audit_chain WHERE seq = 8", &[])?.text(0)?;
            tx.execute("UPDATE audit_head SET seq = 8, hash = $1", &[Value::Text(h)])
        })
        .expect("tamper");
        assert_eq!(broken_at(db, None), None, "{}: without a checkpoint the cut is invisible", t.name);
        assert_eq!(broken_at(db, Some(&checkpoint)), Some(9), "{}: cut rows", t.name);
    }
}

#[test]
fn concurrent_appends_keep_one_unbroken_chain() {
    for t in backends() {
        let db = &t.db;
        std::thread::scope(|s| {
            for w in 0..4 {
                s.spawn(move || {
                    for i in 0..25 {
                        db.write(|tx| audit::append(tx, &[event(w * 100 + i, "C1"), event(w * 100 + i, "C2")]))
                            .expect("append");
                    }
                });
            }
        });
        let v = db.read(|tx| audit::verify(tx, None)).expect("verify");
        assert_eq!((v.rows, v.first_broken), (200, None), "{}", t.name);
        let about = db.read(|tx| audit::about_child(tx, "C1")).expect("about");
        assert_eq!(about.len(), 100, "{}", t.name);
    }
}

/// A server drops its last handle on the database as its async runtime
/// shuts down; a PostgreSQL client closing there must not panic (it did,
/// at `cnis serve`'s shutdown, before the pool closed its connections on a
/// thread of their own). Queries run on blocking threads, as the server
/// runs them; only the drop is on the runtime's own. Only PostgreSQL can
/// fail it, so it tests something only when `DATABASE_URL` is set, as
/// `.ci/run` sets it.
#[test]
fn the_database_closes_cleanly_inside_an_async_runtime() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let mut backends = vec![("sqlite", Backend::Sqlite(dir.path().join("register.db")))];
    if let Ok(url) = std::env::var("DATABASE_URL") {
        let schema = format!("t{}", ChildId::random(&mut rand::rng()).payload());
        backends.push(("postgres", Backend::Postgres { url, schema: Some(schema) }));
    }
    for (name, backend) in backends {
        let db = Db::open(backend.clone()).expect("open");
        db.read(|tx| tx.query_one("SELECT 1", &[])).expect("a query, so a connection is idle");
        let outcome = runtime.block_on(async move { tokio::spawn(async move { drop(db) }).await });
        assert!(outcome.is_ok(), "{name}: dropping the database in an async task panicked");
        let _ = Db::open(backend).and_then(|db| db.drop_schema());
    }
}
