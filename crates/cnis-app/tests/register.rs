//! The register's use cases, on SQLite always and on PostgreSQL when
//! `DATABASE_URL` is set (a schema per test). Access is checked as a table
//! written by hand: each role against each use case, in its own council and
//! another's.

use chrono::{Datelike, NaiveDate};
use cnis_app::service::entries::NewEntry;
use cnis_app::service::{Actor, LookupRequest, NewAccount, SearchRequest, Service, ServiceConfig, ServiceError};
use cnis_core::LaCode;
use cnis_core::register::{EntryContent, EntrySource, EntryStatus, LeaveReason, Parent, Role};
use cnis_store::db::Backend;

mod common;

use common::services;

const PASSWORD: &str = "correct horse battery";

fn la(code: &str) -> LaCode {
    LaCode::parse(code).expect("LA")
}

fn account(s: &Service, email: &str, role: Role, council: Option<&str>) -> Actor {
    let school = (role == Role::School).then(|| format!("{}4001", council.unwrap_or("000")));
    s.add_account(
        None,
        &NewAccount {
            email: email.into(),
            name: email.split('@').next().unwrap_or(email).into(),
            role,
            council: council.map(la),
            school,
            password: (role != Role::Partner).then(|| PASSWORD.to_string()),
        },
    )
    .expect("account");
    s.actor_for(email).expect("actor")
}

/// A date of birth of a child aged about 11 today.
fn dob_aged(years: i32) -> String {
    let t = chrono::Utc::now().date_naive();
    NaiveDate::from_ymd_opt(t.year() - years, 3, 14).expect("date").to_string()
}

fn content(given: &str, family: &str, dob: &str) -> EntryContent {
    EntryContent {
        given_name: given.into(),
        family_name: family.into(),
        dob: dob.into(),
        address: Some("1 High Street".into()),
        postcode: Some("XA1 2BC".into()),
        parents: vec![Parent { name: "Sam Parent".into(), provides_education: true, ..Parent::default() }],
        ..EntryContent::default()
    }
}

fn new_entry(c: EntryContent) -> NewEntry {
    NewEntry { content: c, source: EntrySource::Hand, child_id: None, restricted: None }
}

#[test]
fn a_caseworker_keeps_the_register_and_every_step_is_audited() {
    for env in services() {
        let s = &env.service;
        let cw = account(s, "cw@202.example.invalid", Role::Caseworker, Some("202"));
        let other = account(s, "cw@203.example.invalid", Role::Caseworker, Some("203"));
        let e = s
            .create_entry(&cw, new_entry(content("Amelia", "Thompson", &dob_aged(11))), "parent phoned")
            .expect("create");
        assert_eq!(e.entry.status, EntryStatus::Draft, "{}", env.name);
        assert!(e.eligibility.iter().find(|c| c.code == "B").is_some_and(|c| c.met == Some(true)));
        assert!(e.missing.is_empty(), "{}: {:?}", env.name, e.missing);
        let confirmed = s.confirm_entry(&cw, e.entry.id, 1, "visited").expect("confirm");
        assert_eq!((confirmed.entry.status, confirmed.entry.version), (EntryStatus::Registered, 2));

        let mut c = confirmed.entry.content.clone();
        c.address = Some("2 High Street".into());
        let edited = s.update_entry(&cw, e.entry.id, 2, c.clone(), "moved house").expect("edit");
        assert_eq!(edited.entry.version, 3);
        // An edit from a version already replaced is refused.
        let stale = s.update_entry(&cw, e.entry.id, 2, c, "second edit");
        assert!(matches!(stale, Err(ServiceError::Conflict(_))), "{}: {stale:?}", env.name);

        let child = &e.entry.child_id;
        let view = s.child(&cw, child).expect("read");
        assert_eq!(view.history[0].rows.len(), 3, "{}: created, confirmed, edited", env.name);
        let view = s.child(&cw, child).expect("read again");
        assert!(view.restricted.is_none(), "a caseworker does not see optional content");
        assert!(view.viewers.iter().any(|v| v.action == "child.read"), "{}: the read is on the child's page", env.name);

        // Another council's caseworker is refused, and the refusal audited.
        let refused = s.child(&other, child);
        assert!(matches!(refused, Err(ServiceError::Forbidden(_))), "{}", env.name);

        // Emergency access: a reason, then the child, shown to the owner.
        assert!(matches!(s.emergency_access(&other, child, "short"), Err(ServiceError::Invalid(_))));
        s.emergency_access(&other, child, "police report the child is at risk tonight").expect("grant");
        let seen = s.child(&other, child).expect("emergency read");
        assert!(seen.emergency);
        let dash = s.dashboard(&cw).expect("dashboard");
        assert_eq!(dash.emergency_access.len(), 1, "{}", env.name);
        let owner_view = s.child(&cw, child).expect("read");
        assert!(owner_view.viewers.iter().any(|v| v.action == "child.read.emergency"), "{}", env.name);

        // Leaving keeps the entry with a retention date.
        let today = chrono::Utc::now().date_naive();
        let left = s.leave_entry(&cw, e.entry.id, 3, LeaveReason::MovedAway, today, "moved to Wales").expect("leave");
        assert_eq!(left.entry.status, EntryStatus::Left);
        assert!(left.entry.retain_until.is_some_and(|d| d.year() == today.year() + 6));

        // The chain verifies; the subject access export has this child only.
        let v = s.verify_audit().expect("verify");
        assert_eq!(v.first_broken, None, "{}", env.name);
        let other_child =
            s.create_entry(&cw, new_entry(content("Bo", "Nguyen", &dob_aged(9))), "school told us").expect("create");
        s.child(&cw, &other_child.entry.child_id).expect("read");
        let export = s.subject_access_export(None, child).expect("export");
        let reads = export.events.iter().filter(|e| e.action.starts_with("child.read")).count();
        assert_eq!(reads, 5, "{}: every read of the child, refused ones included", env.name);
        assert!(export.events.iter().any(|e| e.action == "entry.update"));
        let text = serde_json::to_string(&export).expect("json");
        assert!(!text.contains(&other_child.entry.child_id) && !text.contains("Nguyen"), "{}", env.name);
    }
}

#[test]
fn bad_input_is_refused_field_by_field_and_changes_nothing() {
    for env in services() {
        let s = &env.service;
        let cw = account(s, "cw@202.example.invalid", Role::Caseworker, Some("202"));
        let before = s.audit_count().expect("count");
        let mut c = content("", "Smith", "2031-02-30");
        c.upn = Some("A123".into());
        c.nhs_number = Some("943 476 5910".into());
        c.postcode = Some("not a postcode".into());
        let Err(ServiceError::Invalid(errors)) = s.create_entry(&cw, new_entry(c), "x") else {
            panic!("{}: bad content accepted", env.name)
        };
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["given_name", "dob", "postcode", "upn", "nhs_number"], "{}", env.name);
        assert!(errors.iter().all(|e| !e.message.contains("943")), "messages never repeat the value");
        assert_eq!(s.audit_count().expect("count"), before, "{}: nothing written", env.name);
        let (page, _) = (s.list_entries(&cw, None, 1, 50).expect("list"), ());
        assert_eq!(page.total, 0);
        assert!(matches!(s.confirm_entry(&cw, 99, 1, "x"), Err(ServiceError::NotFound(_))));
        assert!(matches!(s.child(&cw, "not-an-id"), Err(ServiceError::Invalid(_))));
    }
}

#[test]
fn a_misspelt_name_finds_the_child_and_says_why() {
    for env in services() {
        let s = &env.service;
        let cw = account(s, "cw@202.example.invalid", Role::Caseworker, Some("202"));
        let other = account(s, "cw@203.example.invalid", Role::Caseworker, Some("203"));
        let dob = dob_aged(12);
        s.create_entry(&cw, new_entry(content("Katherine", "Whitfield", &dob)), "x").expect("create");
        s.create_entry(&cw, new_entry(content("Oliver", "Brown", &dob_aged(8))), "x").expect("create");
        s.create_entry(&other, new_entry(content("Katherine", "Whitfield", &dob)), "x").expect("create");
        let hits = s
            .search(
                &cw,
                &SearchRequest {
                    given_name: Some("Kathrine".into()),
                    family_name: Some("Whitfeild".into()),
                    ..SearchRequest::default()
                },
                10,
            )
            .expect("search");
        assert_eq!(hits.len(), 1, "{}: only this council's child, not Oliver", env.name);
        assert_eq!(hits[0].family_name, "Whitfield");
        let fields: Vec<&str> = hits[0].agreed.iter().map(|a| a.field).collect();
        assert_eq!(fields, ["forename", "surname"], "{}", env.name);
        let by_dob =
            s.search(&cw, &SearchRequest { dob: Some(dob.clone()), ..SearchRequest::default() }, 10).expect("search");
        assert_eq!(by_dob.len(), 1);
        assert!(matches!(s.search(&cw, &SearchRequest::default(), 10), Err(ServiceError::Invalid(_))));
    }
}

#[test]
fn identity_lookup_gives_identifiers_above_the_floor_agrees_and_is_rate_limited() {
    for env in services() {
        let s = &env.service;
        let cw = account(s, "cw@202.example.invalid", Role::Caseworker, Some("202"));
        let partner = account(s, "gp-system@nhs.example.invalid", Role::Partner, None);
        let dob = dob_aged(10);
        let mut c = content("Noah", "Patel", &dob);
        c.nhs_number = Some("943 476 5919".into());
        let e = s.create_entry(&cw, new_entry(c), "x").expect("create");
        s.create_entry(&cw, new_entry(content("Noah", "Pate", &dob_aged(14))), "x").expect("create");

        let ask = |given: &str, dob: &str| LookupRequest {
            reference: Some("GP-1".into()),
            given_name: Some(given.into()),
            family_name: Some("Patel".into()),
            dob: Some(dob.into()),
            ..LookupRequest::default()
        };
        let found = s.lookup(&partner, &ask("Noah", &dob)).expect("lookup");
        assert!(!found.is_empty(), "{}", env.name);
        assert_eq!(found[0].child_id, e.entry.child_id);
        assert_eq!(found[0].consistent_identifier.as_deref(), Some("9434765919"));
        assert!(found[0].probability >= 0.9 && found[0].agreed.contains(&"dob"));
        let json = serde_json::to_string(&found).expect("json");
        assert!(!json.contains("Noah") && !json.contains("XA1"), "{}: identifiers only", env.name);

        // A name alone is not a lookup; a caseworker may not look up.
        let mut no_dob = ask("Noah", &dob);
        no_dob.dob = None;
        assert!(matches!(s.lookup(&partner, &no_dob), Err(ServiceError::Invalid(_))));
        assert!(matches!(s.lookup(&cw, &ask("Noah", &dob)), Err(ServiceError::Forbidden(_))));

        // Agreed: the next lookup by that reference is exact.
        s.agree_identity(&partner, "GP-1", &e.entry.child_id).expect("agree");
        let again = s.lookup(&partner, &ask("Noa", &dob)).expect("lookup");
        assert!(again.iter().any(|c| c.agreed_before && c.probability == 1.0), "{}", env.name);

        // The bucket empties: 30 a minute by default.
        let mut limited = false;
        for _ in 0..40 {
            if let Err(ServiceError::RateLimited { retry_after }) = s.lookup(&partner, &ask("Noah", &dob)) {
                assert!(retry_after >= 1);
                limited = true;
                break;
            }
        }
        assert!(limited, "{}: lookups are rate-limited", env.name);
    }
}

#[test]
fn sign_in_locks_after_repeated_failures_and_sessions_carry_a_form_token() {
    for env in services() {
        let s = &env.service;
        account(s, "tm@202.example.invalid", Role::TeamManager, Some("202"));
        let ok = s.sign_in("TM@202.example.invalid ", PASSWORD).expect("sign in");
        let (actor, csrf) = s.session(&ok.token).expect("session");
        assert_eq!((actor.role, csrf), (Role::TeamManager, ok.csrf.clone()));
        s.sign_out(&ok.token).expect("sign out");
        assert!(matches!(s.session(&ok.token), Err(ServiceError::Unauthenticated)));
        assert!(matches!(s.sign_in("nobody@example.invalid", PASSWORD), Err(ServiceError::BadCredentials)));
        for _ in 0..5 {
            assert!(matches!(
                s.sign_in("tm@202.example.invalid", "wrong password!"),
                Err(ServiceError::BadCredentials)
            ));
        }
        let locked = s.sign_in("tm@202.example.invalid", PASSWORD);
        assert!(matches!(locked, Err(ServiceError::Locked { minutes: 15 })), "{}: {locked:?}", env.name);
        // The council's administrator unlocks it; switching it off ends its sessions.
        let admin = account(s, "admin@202.example.invalid", Role::CouncilAdmin, Some("202"));
        let other_admin = account(s, "admin@203.example.invalid", Role::CouncilAdmin, Some("203"));
        let tm = s.actor_for("tm@202.example.invalid").expect("tm");
        assert!(matches!(s.change_account(&other_admin, tm.user_id, None, true), Err(ServiceError::NotFound(_))));
        s.change_account(&admin, tm.user_id, None, true).expect("unlock");
        let again = s.sign_in("tm@202.example.invalid", PASSWORD).expect("signs in once unlocked");
        s.change_account(&admin, tm.user_id, Some(true), false).expect("switch off");
        assert!(matches!(s.session(&again.token), Err(ServiceError::Unauthenticated)), "{}", env.name);
        assert!(matches!(s.sign_in("tm@202.example.invalid", PASSWORD), Err(ServiceError::BadCredentials)));
        // A short password or a council role without a council is refused.
        let bad = s.add_account(
            None,
            &NewAccount {
                email: "x@example.invalid".into(),
                name: "X".into(),
                role: Role::Caseworker,
                council: None,
                school: None,
                password: Some("short".into()),
            },
        );
        let Err(ServiceError::Invalid(errors)) = bad else { panic!("accepted") };
        assert_eq!(errors.len(), 2);
    }
}

#[test]
fn each_role_does_only_what_it_may_in_its_own_council() {
    // (role, use case) -> allowed, written by hand.
    const TABLE: &[(Role, [bool; 7])] = &[
        //                 create  read   search import dash   national audit
        (Role::Caseworker, [true, true, true, true, true, false, false]),
        (Role::TeamManager, [true, true, true, true, true, false, false]),
        (Role::CouncilAdmin, [false, false, false, false, false, false, false]),
        (Role::School, [false, false, false, false, false, false, false]),
        (Role::Partner, [false, false, false, false, false, false, false]),
        (Role::NationalAnalyst, [false, false, false, false, false, true, false]),
        (Role::Auditor, [false, false, false, false, false, false, true]),
    ];
    for env in services() {
        let s = &env.service;
        let owner = account(s, "owner@202.example.invalid", Role::Caseworker, Some("202"));
        let e = s.create_entry(&owner, new_entry(content("Ivy", "Green", &dob_aged(13))), "x").expect("create");
        for (i, (role, allowed)) in TABLE.iter().enumerate() {
            let national = matches!(role, Role::NationalAnalyst | Role::Auditor | Role::Partner);
            for council in ["202", "203"] {
                let a = account(s, &format!("u{i}-{council}@example.invalid"), *role, (!national).then_some(council));
                let same = council == "202" || national;
                let got = [
                    s.create_entry(&a, new_entry(content("New", "Child", &dob_aged(7))), "x").is_ok(),
                    s.child(&a, &e.entry.child_id).is_ok(),
                    s.search(&a, &SearchRequest { family_name: Some("Green".into()), ..SearchRequest::default() }, 10)
                        .is_ok_and(|h| !h.is_empty()),
                    s.list_entries(&a, None, 1, 10).is_ok_and(|p| p.items.iter().any(|v| v.entry.id == e.entry.id)),
                    s.dashboard(&a).is_ok(),
                    s.national_counts(&a).is_ok(),
                    s.audit_chain(&a, 0, 10).is_ok(),
                ];
                // In another council, a council role creates in its own
                // council but never sees this council's child.
                let expected =
                    if same { *allowed } else { [allowed[0], false, false, false, allowed[4], allowed[5], allowed[6]] };
                assert_eq!(got, expected, "{}: {role:?} in {council}", env.name);
            }
        }
        // Counts for national analysts carry no names.
        let analyst = s.actor_for("u5-202@example.invalid").expect("analyst");
        let counts = serde_json::to_string(&s.national_counts(&analyst).expect("counts")).expect("json");
        assert!(!counts.contains("Ivy") && !counts.contains(&e.entry.child_id));
    }
}

#[test]
fn the_sweep_takes_off_children_past_school_age_and_deletes_after_retention() {
    for env in services() {
        let s = &env.service;
        let cw = account(s, "cw@202.example.invalid", Role::Caseworker, Some("202"));
        let old = s.create_entry(&cw, new_entry(content("Old", "Enough", &dob_aged(15))), "x").expect("create");
        let young = s.create_entry(&cw, new_entry(content("Young", "Child", &dob_aged(9))), "x").expect("create");
        let today = chrono::Utc::now().date_naive();
        let in_two_years = NaiveDate::from_ymd_opt(today.year() + 2, 1, 15).expect("date");
        let (left, deleted) = s.sweep(in_two_years).expect("sweep");
        assert_eq!((left, deleted), (1, 0), "{}", env.name);
        let view = s.child(&cw, &old.entry.child_id).expect("read");
        assert_eq!(view.entries[0].entry.left_reason, Some(LeaveReason::PassedCompulsorySchoolAge));
        assert!(s.child(&cw, &young.entry.child_id).expect("read").entries[0].entry.status != EntryStatus::Left);
        let far = NaiveDate::from_ymd_opt(today.year() + 12, 1, 1).expect("date");
        let (_, deleted) = s.sweep(far).expect("sweep");
        assert!(deleted >= 1, "{}", env.name);
        assert!(matches!(s.child(&cw, &old.entry.child_id), Err(ServiceError::Forbidden(_))));
        // The chain still verifies: retention deleted entries, not audit rows.
        assert_eq!(s.verify_audit().expect("verify").first_broken, None, "{}", env.name);
        // Past the audit's own retention its content goes, and the chain
        // still verifies.
        let much_later = NaiveDate::from_ymd_opt(today.year() + 20, 1, 1).expect("date");
        s.sweep(much_later).expect("sweep");
        let export = s.subject_access_export(None, &young.entry.child_id).expect("export");
        assert!(
            export.events.iter().all(|e| e.action == "entry.retention_delete"),
            "{}: content past retention is gone; only this sweep's deletion is recorded: {:?}",
            env.name,
            export.events.iter().map(|e| &e.action).collect::<Vec<_>>()
        );
        assert_eq!(s.verify_audit().expect("verify").first_broken, None, "{}", env.name);
    }
}

#[test]
fn settings_files_change_the_defaults_and_name_a_wrong_key() {
    let mut c = ServiceConfig::new(Backend::Sqlite("x.db".into()));
    c.apply_toml("retention_years = 25\nstatutory_identifier = \"child_id\"\nrequired_to_confirm = [\"postcode\"]\n")
        .expect("good settings");
    assert_eq!(c.retention_years, 25);
    assert_eq!(c.required_to_confirm, ["postcode"]);
    let err = c.apply_toml("retention = 3").expect_err("unknown key");
    assert!(err.contains("retention"), "{err}");
    let err = c.apply_toml("lookup_floor = 0.1").expect_err("out of range");
    assert!(err.contains("lookup_floor"), "{err}");
    let err = c.apply_toml("required_to_confirm = [\"shoe_size\"]").expect_err("unknown field");
    assert!(err.contains("shoe_size"), "{err}");
}

#[test]
fn the_postcode_lookup_decides_condition_a_from_the_home_not_the_school() {
    for env in services() {
        let s = &env.service;
        let cw = account(s, "cw@202.example.invalid", Role::Caseworker, Some("202"));
        // The ONS lookup's layout with its many columns, as Windows writes
        // it: Camden (a London borough: `laua`), Staffordshire (a county:
        // `cty`, with a district in `laua`), Wales, Scotland, Jersey, an
        // unassigned English postcode, and three rows that cannot be read.
        let file = "pcd,pcd2,pcds,dointr,doterm,cty,laua,ctry\r\n\
            XA1 2BC,XA1  2BC,XA1 2BC,202001,,E99999999,E09000007,E92000001\r\n\
            XA12BD,XA1  2BD,XA1 2BD,202001,,E10000028,E07000193,E92000001\r\n\
            CF101AA,CF10 1AA,CF10 1AA,198001,,W99999999,W06000015,W92000004\r\n\
            EH11AA,EH1  1AA,EH1 1AA,198001,,S99999999,S12000036,S92000003\r\n\
            JE11AA,JE1  1AA,JE1 1AA,198001,,L99999999,L99999999,L93000001\r\n\
            XA12BE,XA1  2BE,XA1 2BE,198001,,E99999999,E99999999,E92000001\r\n\
            NOTAPC,NOT  APC,NOT A PC,198001,,E99999999,E09000007,E92000001\r\n\
            XA12BF,XA1  2BF,XA1 2BF,198001,,E99999999,E06999999,E92000001\r\n\
            XA12BG,XA1  2BG,XA1 2BG,198001,,,,E92000001\r\n\
            \r\n\
            XA12BD,XA1  2BD,XA1 2BD,202001,,E99999999,E09000007,E92000001\r\n\
            NOTAPC2,NOT  AP2,NOT A PC2,198001,,E99999999,E09000007,E92000001\r\n";
        let mut faults = Vec::new();
        let load =
            s.load_postcode_areas("nspl.csv", file.as_bytes(), |f| faults.push((f.line, f.field))).expect("load");
        // XA1 2BD again (with another council) after a blank line: the
        // first council is kept, and the blank line is no row.
        assert_eq!(
            (load.rows_read, load.loaded, load.duplicates, load.outside, load.quarantined),
            (11, 2, 1, 4, 4),
            "{}: rows read = loaded + given again + outside England + not loaded",
            env.name
        );
        assert_eq!(faults, [(8, "postcode"), (9, "laua"), (10, "laua"), (13, "postcode")], "{}: by line", env.name);
        // A file with Unix endings and blank lines (which the csv reader
        // skips) names the same lines.
        let unix = file.replace("\r\n", "\n").replace("\nXA12BE", "\n\n\nXA12BE");
        let mut unix_faults = Vec::new();
        s.load_postcode_areas("nspl.csv", unix.as_bytes(), |f| unix_faults.push(f.line)).expect("load");
        assert_eq!(unix_faults, [10, 11, 12, 15], "{}: the two blank lines before XA1 2BE counted", env.name);
        s.load_postcode_areas("nspl.csv", file.as_bytes(), |_| {}).expect("load again");
        assert_eq!(s.council_of_postcode("xa12bc").map(|l| l.to_string()).as_deref(), Some("202"));
        assert_eq!(s.council_of_postcode("XA1 2BD").map(|l| l.to_string()).as_deref(), Some("860"), "the county");
        assert_eq!(s.council_of_postcode("CF10 1AA"), None, "{}: Wales is not loaded", env.name);

        // A home in Camden meets condition A for Camden; one in
        // Staffordshire does not (advice: a caseworker who knows the home
        // may still confirm); one the lookup lacks is not known either way.
        let condition_a = |postcode: &str| {
            let c = EntryContent { postcode: Some(postcode.into()), ..content("Ada", "Area", &dob_aged(11)) };
            let e = s.create_entry(&cw, new_entry(c), "parent told us").expect("entry");
            let a = e.eligibility.iter().find(|c| c.code == "A").expect("A").met;
            (e.entry.id, a)
        };
        let (_, met) = condition_a("XA1 2BC");
        assert_eq!(met, Some(true), "{}", env.name);
        let (away, met) = condition_a("XA1 2BD");
        assert_eq!(met, Some(false), "{}", env.name);
        let confirmed = s.confirm_entry(&cw, away, 1, "home visit: lives in the borough").expect("confirm");
        let a = confirmed.eligibility.iter().find(|c| c.code == "A").expect("A");
        assert!(a.reason.contains("Staffordshire"), "{}: {}", env.name, a.reason);
        assert_eq!(condition_a("XA9 9ZZ").1, None, "{}", env.name);

        // A service opened afterwards on the same database has the lookup,
        // and the load is recorded and audited.
        let (latest, held) = s.postcode_lookup().expect("lookup");
        assert_eq!((latest.map(|l| l.source), held), (Some("nspl.csv".to_string()), 2), "{}", env.name);
        let again = Service::open(s.config().clone()).expect("reopen");
        assert_eq!(again.council_of_postcode("XA1 2BD").map(|l| l.to_string()).as_deref(), Some("860"), "{}", env.name);
        assert_eq!(s.verify_audit().expect("verify").first_broken, None, "{}", env.name);

        // A file with no council column changes nothing.
        let bad = s.load_postcode_areas("bad.csv", "postcode,colour\nXA1 2BC,red\n".as_bytes(), |_| {});
        assert!(matches!(bad, Err(ServiceError::Invalid(_))), "{}", env.name);
        assert_eq!(s.council_of_postcode("XA1 2BC").map(|l| l.to_string()).as_deref(), Some("202"), "{}", env.name);
    }
}

#[test]
fn a_shared_service_s_caseworker_acts_for_one_of_their_councils_at_a_time() {
    for env in services() {
        let s = &env.service;
        let home = account(s, "cw@202.example.invalid", Role::Caseworker, Some("202"));
        let other = account(s, "cw@203.example.invalid", Role::Caseworker, Some("203"));
        let admin_203 = account(s, "admin@203.example.invalid", Role::CouncilAdmin, Some("203"));
        let admin_202 = account(s, "admin@202.example.invalid", Role::CouncilAdmin, Some("202"));
        account(s, "school@202.example.invalid", Role::School, Some("202"));
        let in_203 = s.create_entry(&other, new_entry(content("Bo", "Borough", &dob_aged(10))), "t").expect("203");
        let in_202 = s.create_entry(&home, new_entry(content("Cy", "Camden", &dob_aged(10))), "t").expect("202");
        assert!(s.acting_for(&home, la("203")).is_err(), "{}: not yet", env.name);

        // Only council 203's administrator (or the console) gives access
        // to 203, and only to a council's caseworkers, managers and admins.
        assert!(matches!(
            s.add_council(Some(&admin_202), "cw@202.example.invalid", la("203")),
            Err(ServiceError::Forbidden(_))
        ));
        assert!(matches!(
            s.add_council(Some(&admin_203), "school@202.example.invalid", la("203")),
            Err(ServiceError::Invalid(_))
        ));
        assert!(matches!(s.add_council(None, "cw@202.example.invalid", la("202")), Err(ServiceError::Invalid(_))));
        s.add_council(Some(&admin_203), "cw@202.example.invalid", la("203")).expect("give 203");
        assert!(matches!(s.add_council(None, "cw@202.example.invalid", la("203")), Err(ServiceError::Conflict(_))));

        let shared = s.actor_for("cw@202.example.invalid").expect("actor");
        assert_eq!(shared.councils, [la("202"), la("203")], "{}: its own first", env.name);
        assert_eq!(shared.council, Some(la("202")), "{}: acts for its own council until it switches", env.name);
        let for_203 = s.acting_for(&shared, la("203")).expect("switch");
        assert!(s.child(&for_203, &in_203.entry.child_id).is_ok(), "{}", env.name);
        assert!(s.child(&for_203, &in_202.entry.child_id).is_err(), "{}: one council at a time", env.name);
        assert!(s.child(&shared, &in_203.entry.child_id).is_err(), "{}", env.name);
        assert!(s.acting_for(&shared, la("204")).is_err());

        // Emergency access belongs to the council it was asked for: taken
        // while acting for 203 to a child of 330, it is not there when the
        // same person acts for 202, and 330 sees it asked for by 203.
        let far = account(s, "cw@330.example.invalid", Role::Caseworker, Some("330"));
        let in_330 = s.create_entry(&far, new_entry(content("Di", "Distant", &dob_aged(10))), "t").expect("330");
        let child_330 = in_330.entry.child_id.clone();
        s.emergency_access(&for_203, &child_330, "police report the child is at risk tonight").expect("grant");
        assert!(s.child(&for_203, &child_330).expect("while acting for 203").emergency, "{}", env.name);
        assert!(s.child(&shared, &child_330).is_err(), "{}: not when acting for 202", env.name);
        let far_admin = account(s, "tm@330.example.invalid", Role::TeamManager, Some("330"));
        let grants = s.dashboard(&far_admin).expect("dashboard").emergency_access;
        assert_eq!(grants[0].user_council.as_deref(), Some("203"), "{}", env.name);

        // A session switches, and the switch is what the next request acts
        // for (the cached check is dropped) and is audited.
        let signed = s.sign_in("cw@202.example.invalid", PASSWORD).expect("sign in");
        assert_eq!(signed.actor.councils.len(), 2);
        s.switch_council(&signed.token, la("203")).expect("switch");
        let (now, _) = s.session(&signed.token).expect("session");
        assert_eq!(now.council, Some(la("203")), "{}", env.name);
        assert!(s.switch_council(&signed.token, la("330")).is_err(), "{}", env.name);
        let other_signed = s.sign_in("cw@203.example.invalid", PASSWORD).expect("sign in");
        assert!(matches!(s.switch_council(&other_signed.token, la("202")), Err(ServiceError::Forbidden(_))));

        // Council 203 lists the shared account and takes its access away,
        // which sends the session acting for 203 back to 202 and leaves
        // the account itself working.
        let listed = s.accounts(&admin_203).expect("accounts");
        assert!(listed.iter().any(|u| u.id == shared.user_id), "{}: 203 sees who acts for it", env.name);
        s.change_account(&admin_203, shared.user_id, Some(true), false).expect("take away");
        let after = s.actor_for("cw@202.example.invalid").expect("still an account");
        assert_eq!(after.councils, [la("202")], "{}", env.name);
        let (now, _) = s.session(&signed.token).expect("the session goes on");
        assert_eq!(now.council, Some(la("202")), "{}: back to its own council", env.name);
        assert!(!s.accounts(&admin_203).expect("accounts").iter().any(|u| u.id == shared.user_id));
        assert!(matches!(s.remove_council(None, shared.user_id, la("203")), Err(ServiceError::NotFound(_))));
        assert_eq!(s.verify_audit().expect("verify").first_broken, None, "{}", env.name);
    }
}
