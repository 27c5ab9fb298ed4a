//! The unregistered alternative provision register: providers, the
//! standards checklist, visits, placements, attendance and alerts; on
//! SQLite always and on PostgreSQL when `DATABASE_URL` is set.

use chrono::{Datelike, Days, NaiveDate};
use cnis_app::service::ServiceError;
use cnis_app::service::ap::{
    EndPlacement, NewAttendance, NewEvidence, NewProvider, NewVisit, PlaceChild, UpdateProvider,
};
use cnis_core::ChildId;
use cnis_core::ap::{Alert, Commissioner, Contact, ProviderContent, ProviderKind};
use cnis_core::register::Role;

mod common;

use common::{account, services};

fn today() -> NaiveDate {
    chrono::Utc::now().date_naive()
}

/// The Monday of the week `d` is in.
fn monday(d: NaiveDate) -> NaiveDate {
    d - Days::new(u64::from(d.weekday().num_days_from_monday()))
}

fn content() -> ProviderContent {
    ProviderContent {
        name: "Riverside Skills Hub".into(),
        kind: ProviderKind::Organisation,
        ukprn: Some("10087654".into()),
        addresses: vec!["Unit 4, Canal Street, XA1 9ZZ".into()],
        web_address: None,
        contacts: vec![Contact { name: "Sam Okoro".into(), role: Some("Manager".into()), ..Contact::default() }],
    }
}

fn evidence(standard: &str, checked: NaiveDate, expires: Option<NaiveDate>) -> NewEvidence {
    NewEvidence {
        standard: standard.into(),
        evidence: "certificate seen".into(),
        checked_on: checked.to_string(),
        expires_on: expires.map(|d| d.to_string()),
    }
}

#[test]
fn a_provider_is_checked_against_the_standards_and_its_placements_raise_alerts_until_dealt_with() {
    for env in services() {
        let s = &env.service;
        let cw = account(s, "cw@202.example.invalid", Role::Caseworker, "202", None);
        let other = account(s, "cw@203.example.invalid", Role::Caseworker, "203", None);
        let school = account(s, "office@school.example.invalid", Role::School, "202", Some("2024001"));

        // Bad input names each field and adds nothing.
        let bad = ProviderContent { name: " ".into(), ukprn: Some("2001".into()), addresses: vec![], ..content() };
        let Err(ServiceError::Invalid(errors)) = s.add_provider(&cw, NewProvider { content: bad, reason: "x".into() })
        else {
            panic!("{}: refused", env.name)
        };
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["content.name", "content.ukprn", "content.addresses"], "{}", env.name);
        assert!(s.providers(&cw).expect("list").is_empty());

        let p =
            s.add_provider(&cw, NewProvider { content: content(), reason: "a school told us".into() }).expect("add");
        assert_eq!(p.version, 1);
        let stale =
            s.update_provider(&cw, p.id, UpdateProvider { version: 2, content: content(), reason: "tidy".into() });
        assert!(matches!(stale, Err(ServiceError::Conflict(_))), "{}: {stale:?}", env.name);
        let mut renamed = content();
        renamed.name = "Riverside Skills Hub CIC".into();
        let p = s
            .update_provider(&cw, p.id, UpdateProvider { version: 1, content: renamed, reason: "new name".into() })
            .expect("update");
        assert_eq!(p.version, 2);

        // Another council, and a school, cannot see it.
        assert!(matches!(s.provider(&other, p.id), Err(ServiceError::NotFound(_))), "{}", env.name);
        assert!(matches!(s.provider(&school, p.id), Err(ServiceError::Forbidden(_))), "{}", env.name);

        // No placement under way: the missing standards are shown on the
        // checklist but raise no alert yet.
        let view = s.provider(&cw, p.id).expect("view");
        assert_eq!(view.standards.len(), 4);
        assert!(view.standards.iter().all(|x| !x.met));
        assert!(view.alerts.is_empty(), "{}: {:?}", env.name, view.alerts);

        // A child placed 20 days ago, until yesterday, with nothing recorded.
        let child = ChildId::random(&mut rand::rng()).to_string();
        let start = today() - Days::new(20);
        let placed = s
            .place_child(
                &cw,
                p.id,
                PlaceChild {
                    child_id: child.clone(),
                    commissioner: Commissioner::School,
                    school: Some("2024001".into()),
                    start_on: start.to_string(),
                    planned_end_on: Some((today() - Days::new(1)).to_string()),
                    hours_per_week: 15.0,
                    reason: "school's behaviour plan".into(),
                },
            )
            .expect("place");
        let view = s.provider(&cw, p.id).expect("view");
        let missing = view.alerts.iter().filter(|a| matches!(a, Alert::StandardMissing { .. })).count();
        assert_eq!(missing, 4, "{}: {:?}", env.name, view.alerts);
        assert!(view.alerts.contains(&Alert::NoAttendance { placement: placed.id, days: 20 }), "{}", env.name);
        assert!(view.alerts.iter().any(|a| matches!(a, Alert::PastPlannedEnd { .. })), "{}", env.name);

        // Evidence: three current, one lapsed ten days ago.
        let year_ago = today() - Days::new(365);
        for st in ["safeguarding_lead", "enhanced_dbs_checks", "single_central_record"] {
            s.record_evidence(&cw, p.id, evidence(st, today() - Days::new(3), Some(today() + Days::new(300))))
                .expect("evidence");
        }
        s.record_evidence(&cw, p.id, evidence("health_and_safety", year_ago, Some(today() - Days::new(10))))
            .expect("evidence");
        let Err(ServiceError::Invalid(e)) = s.record_evidence(&cw, p.id, evidence("uniform", today(), None)) else {
            panic!("{}: an unknown standard is refused", env.name)
        };
        assert_eq!(e[0].field, "standard");
        let Err(ServiceError::Invalid(e)) =
            s.record_evidence(&cw, p.id, evidence("insurance_x", today() + Days::new(1), Some(today())))
        else {
            panic!("{}", env.name)
        };
        assert_eq!(e.len(), 3, "{}: standard, future check, expiry not after check: {e:?}", env.name);
        // Attendance for this week and a visit.
        let week = monday(today());
        s.record_attendance(&cw, placed.id, NewAttendance { week_of: week.to_string(), attended: 6, offered: 8 })
            .expect("attendance");
        let not_monday = (week + Days::new(1)).to_string();
        assert!(matches!(
            s.record_attendance(&cw, placed.id, NewAttendance { week_of: not_monday, attended: 1, offered: 2 }),
            Err(ServiceError::Invalid(_))
        ));
        assert!(matches!(
            s.record_attendance(&cw, placed.id, NewAttendance { week_of: week.to_string(), attended: 9, offered: 8 }),
            Err(ServiceError::Invalid(_))
        ));
        let before_start = monday(start - Days::new(14)).to_string();
        assert!(matches!(
            s.record_attendance(&cw, placed.id, NewAttendance { week_of: before_start, attended: 1, offered: 2 }),
            Err(ServiceError::Conflict(_))
        ));
        s.record_visit(
            &cw,
            p.id,
            NewVisit {
                visited_on: today().to_string(),
                findings: "Fire exits blocked".into(),
                actions: vec!["Clear the fire exits within a week".into()],
            },
        )
        .expect("visit");
        let view = s.provider(&cw, p.id).expect("view");
        assert_eq!(
            view.alerts,
            vec![
                Alert::StandardLapsed { standard: "health_and_safety".into(), expired_on: today() - Days::new(10) },
                Alert::PastPlannedEnd { placement: placed.id, planned_end_on: today() - Days::new(1) },
            ],
            "{}",
            env.name
        );
        assert_eq!(view.standards.iter().filter(|x| x.met).count(), 3);
        assert_eq!(view.visits[0].actions.len(), 1);
        assert_eq!(view.placements[0].attendance.len(), 1);
        assert_eq!(view.placements[0].attendance[0].attended, 6);

        // The daily sweep tells the team managers once.
        let first = s.escalate_overdue(today()).expect("sweep");
        assert_eq!(first, 2, "{}", env.name);
        let manager = account(s, "tm@202.example.invalid", Role::TeamManager, "202", None);
        let out = s.outbox(&manager, false).expect("outbox");
        assert_eq!(out.iter().filter(|m| m.kind == "ap.alert").count(), 2, "{}", env.name);
        assert_eq!(s.escalate_overdue(today()).expect("again"), 0, "{}: sent once", env.name);

        // Ending the placement clears its alerts; standards alert only
        // while a child is placed.
        let ended = s
            .end_placement(
                &cw,
                placed.id,
                EndPlacement {
                    version: placed.version,
                    ended_on: today().to_string(),
                    reason: "back in school".into(),
                },
            )
            .expect("end");
        assert_eq!(ended.version, 2);
        assert!(s.provider(&cw, p.id).expect("view").alerts.is_empty(), "{}", env.name);
        let again = s.end_placement(
            &cw,
            placed.id,
            EndPlacement { version: 2, ended_on: today().to_string(), reason: "again".into() },
        );
        assert!(matches!(again, Err(ServiceError::Conflict(_))), "{}", env.name);

        // The history holds every change; reading the provider is a read
        // of the child placed, in the child's subject access export.
        let view = s.provider(&cw, p.id).expect("view");
        let actions: Vec<&str> = view.history.iter().map(|h| h.action.as_str()).collect();
        assert_eq!(actions, ["added", "changed", "placed", "ended"], "{}", env.name);
        let export = s.subject_access_export(None, &child).expect("export");
        let seen: Vec<&str> = export.events.iter().map(|e| e.action.as_str()).collect();
        for a in ["ap.placement.add", "ap.attendance", "ap.provider.read", "ap.placement.end"] {
            assert!(seen.contains(&a), "{}: {a} in {seen:?}", env.name);
        }
        assert_eq!(s.verify_audit().expect("verify").first_broken, None);
    }
}
