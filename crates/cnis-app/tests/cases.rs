//! Casework: schools' deletion notices, the cases they open and the work
//! on them, on SQLite always and on PostgreSQL when `DATABASE_URL` is set.

use chrono::{Datelike, Days, NaiveDate, Weekday};
use cnis_app::service::ServiceError;
use cnis_app::service::cases::{AssignCase, ChildMatch, CloseCase, NewEnquiry};
use cnis_app::service::entries::NewEntry;
use cnis_core::LaCode;
use cnis_core::calendar::{Period, SchoolCalendar};
use cnis_core::casework::{
    CaseKind, CaseOutcome, CaseStatus, DeletionNotice, DestinationKind, Enquiry, EnquiryKind, NoticeDestination,
    NoticeParent,
};
use cnis_core::register::{EntryContent, EntrySource, EntryStatus, Role};
use cnis_store::cases::CaseFilter;

mod common;

use common::{account, services};

fn today() -> NaiveDate {
    chrono::Utc::now().date_naive()
}

fn dob_aged(years: i32) -> String {
    NaiveDate::from_ymd_opt(today().year() - years, 5, 20).expect("date").to_string()
}

fn notice(school: &str, ground: &str, given: &str, family: &str, upn: Option<&str>) -> DeletionNotice {
    DeletionNotice {
        school: school.into(),
        deletion_date: (today() - Days::new(1)).to_string(),
        ground: ground.into(),
        given_name: given.into(),
        family_name: family.into(),
        dob: dob_aged(12),
        upn: upn.map(str::to_string),
        address: Some("4 Mill Lane".into()),
        postcode: Some("XA1 2BC".into()),
        parents: vec![NoticeParent {
            name: "Jo Parent".into(),
            telephone: Some("01632 960001".into()),
            ..NoticeParent::default()
        }],
        ..DeletionNotice::default()
    }
}

/// A term from 40 days ago to 80 days ahead, with the next two weekdays
/// after today as training days.
fn calendar_with_closures() -> (String, SchoolCalendar) {
    let t = today();
    let mut closures = Vec::new();
    let mut d = t;
    while closures.len() < 2 {
        d = d.succ_opt().expect("day");
        if !matches!(d.weekday(), Weekday::Sat | Weekday::Sun) {
            closures.push(d);
        }
    }
    let mut csv = format!("kind,start,end,description\nterm,{},{},Term\n", t - Days::new(40), t + Days::new(80));
    for c in &closures {
        csv.push_str(&format!("closure,{c},,Training day\n"));
    }
    let cal = SchoolCalendar::parse_csv(&csv).expect("calendar");
    (csv, cal)
}

const SCHOOL: &str = "2024001";

#[test]
fn a_notice_on_the_twenty_day_ground_opens_a_missing_education_case_due_by_the_council_calendar() {
    for env in services() {
        let s = &env.service;
        let school = account(s, "office@school.example.invalid", Role::School, "202", Some(SCHOOL));
        let manager = account(s, "tm@202.example.invalid", Role::TeamManager, "202", None);
        let cw = account(s, "cw@202.example.invalid", Role::Caseworker, "202", None);
        let (csv, cal) = calendar_with_closures();
        let summary = s.set_calendar(&manager, None, &csv).expect("calendar");
        assert_eq!((summary.terms, summary.closures), (1, 2), "{}", env.name);

        let r = s.submit_notice(&school, notice("", "9(1)(i)", "Kacper", "Nowak", None)).expect("notice");
        assert_eq!(r.notice.school, SCHOOL, "{}: a school user's own school by default", env.name);
        assert_eq!(r.notice.ground, "9(1)(i)");
        assert_eq!(r.notice.meaning, "continuous_absence");
        assert_eq!(r.matched, ChildMatch::New, "{}", env.name);
        assert!(r.case_opened);
        assert_eq!(r.case_kind, Some(CaseKind::MissingEducation));
        let case_id = r.case_id.expect("case");

        let view = s.case(&cw, case_id).expect("case");
        let expected = Period::SchoolDays(5).deadline(today(), &cal).expect("deadline").due;
        assert_eq!(view.case.due_on, Some(expected), "{}: five school days by the council's calendar", env.name);
        // The two training days push it past where weekdays alone would.
        let weekdays_only = Period::SchoolDays(5).deadline(today(), &SchoolCalendar::default()).expect("d").due;
        assert!(expected > weekdays_only, "{}: {expected} after {weekdays_only}", env.name);
        assert!(!view.case.content.deadline_approximate);
        assert_eq!(view.case.content.notice_id, Some(r.notice.id));
        assert!(view.case.content.summary.contains("9(1)(i)"));
        assert_eq!(view.notices.len(), 1);

        // The child is on the register as a draft from the notice.
        let entry_id = r.draft_entry_id.expect("a draft");
        let child = s.child(&cw, &r.notice.child_id).expect("child");
        let e = child.entries.iter().find(|e| e.entry.id == entry_id).expect("entry");
        assert_eq!((e.entry.status, e.entry.source), (EntryStatus::Draft, EntrySource::DeletionNotice), "{}", env.name);
        assert_eq!(e.entry.content.previous_school.as_deref(), Some(SCHOOL));

        // The school sees its notice and that a case is open, not the child id.
        let mine = s.notices(&school, 1, 50).expect("notices");
        assert_eq!(mine.total, 1);
        assert_eq!(mine.items[0].child_id, None, "{}: a school is not told the child id", env.name);
        assert_eq!(mine.items[0].case_status, Some(CaseStatus::Open));
        let council_view = s.notices(&cw, 1, 50).expect("council notices");
        assert_eq!(council_view.items[0].child_id.as_deref(), Some(r.notice.child_id.as_str()));
        assert!(s.verify_audit().expect("verify").first_broken.is_none(), "{}", env.name);
    }
}

#[test]
fn without_term_dates_a_deadline_counts_weekdays_and_says_it_is_approximate() {
    for env in services() {
        let s = &env.service;
        let school = account(s, "office@school.example.invalid", Role::School, "202", Some(SCHOOL));
        let cw = account(s, "cw@202.example.invalid", Role::Caseworker, "202", None);
        let r = s.submit_notice(&school, notice(SCHOOL, "h", "Ola", "Kowalska", None)).expect("notice");
        assert_eq!(r.notice.meaning, "leave_of_absence", "{}: a letter alone, read under 2024", env.name);
        let view = s.case(&cw, r.case_id.expect("case")).expect("case");
        let expected = Period::SchoolDays(5).deadline(today(), &SchoolCalendar::default()).expect("d").due;
        assert_eq!(view.case.due_on, Some(expected), "{}", env.name);
        assert!(view.case.content.deadline_approximate, "{}", env.name);
    }
}

#[test]
fn notices_open_the_case_their_ground_calls_for_or_none() {
    for env in services() {
        let s = &env.service;
        let school = account(s, "office@school.example.invalid", Role::School, "202", Some(SCHOOL));
        let he = s.submit_notice(&school, notice(SCHOOL, "9(1)(f)", "Ada", "Byron", None)).expect("home education");
        assert_eq!(he.case_kind, Some(CaseKind::HomeEducation), "{}", env.name);
        let cw = account(s, "cw@202.example.invalid", Role::Caseworker, "202", None);
        let view = s.case(&cw, he.case_id.expect("case")).expect("case");
        assert_eq!(view.case.due_on, Some(today() + Days::new(15)), "{}: 15 calendar days", env.name);

        let mut moved = notice(SCHOOL, "9(1)(a)", "Ben", "Okafor", None);
        moved.destination = Some(NoticeDestination {
            kind: DestinationKind::OtherSchool,
            school: Some("2034002".into()),
            council: None,
            address: None,
            start_date: None,
        });
        let r = s.submit_notice(&school, moved).expect("other school");
        assert_eq!((r.case_id, r.draft_entry_id), (None, None), "{}: another school named, no case", env.name);

        let mut away = notice(SCHOOL, "9(1)(g)", "Cara", "Doyle", None);
        away.destination = Some(NoticeDestination {
            kind: DestinationKind::Unknown,
            school: None,
            council: None,
            address: None,
            start_date: None,
        });
        let r = s.submit_notice(&school, away).expect("moved away");
        assert_eq!(r.case_kind, Some(CaseKind::MissingEducation), "{}: moved, destination unknown", env.name);

        let cases = s.cases(&cw, &CaseFilter::default(), 1, 50).expect("cases");
        assert_eq!(cases.total, 2, "{}", env.name);
        // Soonest deadline first.
        let due: Vec<_> = cases.items.iter().map(|c| c.due_on).collect();
        let mut sorted = due.clone();
        sorted.sort();
        assert_eq!(due, sorted);
    }
}

#[test]
fn a_second_notice_for_the_same_child_joins_the_open_case_and_a_known_child_is_found() {
    for env in services() {
        let s = &env.service;
        let school = account(s, "office@school.example.invalid", Role::School, "202", Some(SCHOOL));
        let cw = account(s, "cw@202.example.invalid", Role::Caseworker, "202", None);
        let upn = valid_upn();
        let first = s.submit_notice(&school, notice(SCHOOL, "9(1)(i)", "Dara", "Quinn", Some(&upn))).expect("first");
        let second = s.submit_notice(&school, notice(SCHOOL, "9(1)(h)", "Dara", "Quinn", Some(&upn))).expect("second");
        assert_eq!(second.matched, ChildMatch::Upn, "{}", env.name);
        assert_eq!(second.notice.child_id, first.notice.child_id);
        assert_eq!(second.case_id, first.case_id, "{}: joins the open case", env.name);
        assert!(!second.case_opened);
        assert_eq!(second.draft_entry_id, None, "{}: already on the register", env.name);

        // A child on the register by hand is found by name and date of birth.
        let dob = dob_aged(12);
        let known = s
            .create_entry(
                &cw,
                NewEntry {
                    content: EntryContent {
                        given_name: "Esme".into(),
                        family_name: "Whitfield".into(),
                        dob: dob.clone(),
                        postcode: Some("XA1 2BC".into()),
                        ..EntryContent::default()
                    },
                    source: EntrySource::Hand,
                    child_id: None,
                    restricted: None,
                },
                "parent told us",
            )
            .expect("entry");
        let mut n = notice(SCHOOL, "9(1)(i)", "Esme", "Whitfield", None);
        n.dob = dob;
        let r = s.submit_notice(&school, n).expect("notice");
        assert!(
            matches!(r.matched, ChildMatch::Details { probability } if probability >= 0.9),
            "{}: {:?}",
            env.name,
            r.matched
        );
        assert_eq!(r.notice.child_id, known.entry.child_id);
        assert_eq!(r.draft_entry_id, None);
        // Esme's twin, with the same date of birth, family name and
        // postcode, is another child.
        let mut twin = notice(SCHOOL, "9(1)(i)", "Ellis", "Whitfield", None);
        twin.dob = known.entry.content.dob.clone();
        let t = s.submit_notice(&school, twin).expect("twin");
        assert_eq!(t.matched, ChildMatch::New, "{}: a twin is not matched to their sibling", env.name);
        assert_ne!(t.notice.child_id, known.entry.child_id);
    }
}

/// A valid UPN (check letter computed by the project's own type).
fn valid_upn() -> String {
    let body = "202400100001";
    ('A'..='Z').map(|c| format!("{c}{body}")).find(|u| cnis_core::Upn::parse(u).is_ok()).expect("one check letter fits")
}

#[test]
fn bad_notices_are_refused_field_by_field_and_change_nothing() {
    for env in services() {
        let s = &env.service;
        let school = account(s, "office@school.example.invalid", Role::School, "202", Some(SCHOOL));
        let cw = account(s, "cw@202.example.invalid", Role::Caseworker, "202", None);
        let mut bad = notice(SCHOOL, "9(1)(z)", "", "Smith", Some("X123"));
        bad.dob = "2099-01-01".into();
        bad.deletion_date = "yesterday".into();
        bad.postcode = Some("not a postcode".into());
        bad.parents[0].telephone = Some("call me".into());
        bad.destination = Some(NoticeDestination {
            kind: DestinationKind::OtherSchool,
            school: None,
            council: None,
            address: None,
            start_date: Some("soon".into()),
        });
        let Err(ServiceError::Invalid(errors)) = s.submit_notice(&school, bad) else { panic!("{}: refused", env.name) };
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        for f in [
            "deletion_date",
            "ground",
            "given_name",
            "upn",
            "postcode",
            "parents[0].telephone",
            "destination.school",
            "destination.start_date",
        ] {
            assert!(fields.contains(&f), "{}: {f} named in {fields:?}", env.name);
        }
        // Another school's notice, and a caseworker's, are refused.
        let other = s.submit_notice(&school, notice("2024002", "9(1)(i)", "A", "B", None));
        assert!(matches!(other, Err(ServiceError::Forbidden(_))), "{}: {other:?}", env.name);
        let not_school = s.submit_notice(&cw, notice(SCHOOL, "9(1)(i)", "A", "B", None));
        assert!(matches!(not_school, Err(ServiceError::Forbidden(_))), "{}", env.name);
        assert_eq!(s.notices(&cw, 1, 10).expect("list").total, 0, "{}: nothing stored", env.name);
        // A page far past the end is empty, not an overflow.
        assert!(s.notices(&cw, i64::MAX, 200).expect("far page").items.is_empty(), "{}", env.name);
        assert!(s.cases(&cw, &CaseFilter::default(), i64::MAX, 200).expect("far page").items.is_empty());
        assert_eq!(s.cases(&cw, &CaseFilter::default(), 1, 10).expect("cases").total, 0);
    }
}

#[test]
fn a_caseworker_records_enquiries_and_closes_the_case_with_history_and_another_council_sees_nothing() {
    for env in services() {
        let s = &env.service;
        let school = account(s, "office@school.example.invalid", Role::School, "202", Some(SCHOOL));
        let cw = account(s, "cw@202.example.invalid", Role::Caseworker, "202", None);
        let other = account(s, "cw@203.example.invalid", Role::Caseworker, "203", None);
        let r = s.submit_notice(&school, notice(SCHOOL, "9(1)(i)", "Finn", "Hale", None)).expect("notice");
        let id = r.case_id.expect("case");
        let v1 = s.case(&cw, id).expect("case").case.version;

        let assigned =
            s.assign_case(&cw, id, AssignCase { version: v1, key_worker: Some(cw.user_id) }).expect("assign");
        assert_eq!(assigned.key_worker, Some(cw.user_id));
        let bad_worker =
            s.assign_case(&cw, id, AssignCase { version: assigned.version, key_worker: Some(other.user_id) });
        assert!(matches!(bad_worker, Err(ServiceError::Invalid(_))), "{}: another council's worker", env.name);

        let enquiry = |kind, located, version| NewEnquiry {
            version,
            enquiry: Enquiry { kind, made_on: today().to_string(), outcome: "asked".into(), located, recorded_by: 0 },
        };
        let e1 = s.record_enquiry(&cw, id, enquiry(EnquiryKind::Health, false, assigned.version)).expect("health");
        let stale = s.record_enquiry(&cw, id, enquiry(EnquiryKind::Police, false, assigned.version));
        assert!(matches!(stale, Err(ServiceError::Conflict(_))), "{}: {stale:?}", env.name);
        let e2 = s.record_enquiry(&cw, id, enquiry(EnquiryKind::HomeVisit, true, e1.version)).expect("visit");
        assert_eq!(e2.content.enquiries.len(), 2);
        assert_eq!(e2.content.enquiries[1].recorded_by, cw.user_id, "{}: recorded by the caseworker", env.name);
        assert_eq!(e2.content.located_on.as_deref(), Some(today().to_string().as_str()));

        let future = NewEnquiry {
            version: e2.version,
            enquiry: Enquiry {
                kind: EnquiryKind::School,
                made_on: (today() + Days::new(3)).to_string(),
                outcome: "".into(),
                located: false,
                recorded_by: 0,
            },
        };
        let Err(ServiceError::Invalid(errs)) = s.record_enquiry(&cw, id, future) else { panic!("refused") };
        assert_eq!(errs.len(), 2, "{}: date and outcome", env.name);

        // Another council cannot see or change the case.
        assert!(matches!(s.case(&other, id), Err(ServiceError::NotFound(_))), "{}", env.name);
        let theirs = s.record_enquiry(&other, id, enquiry(EnquiryKind::Police, false, e2.version));
        assert!(matches!(theirs, Err(ServiceError::NotFound(_))), "{}", env.name);
        assert_eq!(s.cases(&other, &CaseFilter::default(), 1, 10).expect("list").total, 0);
        // A school cannot list cases.
        assert!(matches!(s.cases(&school, &CaseFilter::default(), 1, 10), Err(ServiceError::Forbidden(_))));

        let closed = s
            .close_case(
                &cw,
                id,
                CloseCase {
                    version: e2.version,
                    outcome: CaseOutcome::BackInSchool,
                    located_on: None,
                    note: "on roll at a school in the next council".into(),
                },
            )
            .expect("close");
        assert_eq!((closed.status, closed.outcome), (CaseStatus::Closed, Some(CaseOutcome::BackInSchool)));
        let again = s.record_enquiry(&cw, id, enquiry(EnquiryKind::Police, false, closed.version));
        assert!(matches!(again, Err(ServiceError::Conflict(_))), "{}: closed", env.name);

        let view = s.case(&cw, id).expect("case");
        let actions: Vec<&str> = view.history.iter().map(|h| h.action.as_str()).collect();
        assert_eq!(actions, ["opened", "notice", "key_worker", "enquiry", "enquiry", "closed"], "{}", env.name);
        assert!(view.history[1..].iter().all(|h| h.before.is_some()), "every change keeps the case before");
        assert_eq!(view.history.last().map(|h| h.reason.as_str()), Some("on roll at a school in the next council"));

        // Overdue: an open case past its deadline is listed as such.
        let open =
            s.cases(&cw, &CaseFilter { due_before: Some(today() + Days::new(60)), ..CaseFilter::default() }, 1, 10);
        assert_eq!(open.expect("list").total, 0, "{}: a closed case is never overdue", env.name);
        assert!(s.verify_audit().expect("verify").first_broken.is_none());
        let audit = s.subject_access_export(None, &r.notice.child_id).expect("export");
        let kinds: Vec<&str> = audit.events.iter().map(|e| e.action.as_str()).collect();
        for k in ["notice.submit", "case.read", "case.key_worker", "case.enquiry", "case.closed"] {
            assert!(kinds.contains(&k), "{}: {k} in the child's audit {kinds:?}", env.name);
        }
    }
}

#[test]
fn only_team_managers_and_administrators_load_term_dates_and_bad_files_are_named() {
    for env in services() {
        let s = &env.service;
        let cw = account(s, "cw@202.example.invalid", Role::Caseworker, "202", None);
        let admin = account(s, "admin@202.example.invalid", Role::CouncilAdmin, "202", None);
        let (csv, _) = calendar_with_closures();
        assert!(matches!(s.set_calendar(&cw, None, &csv), Err(ServiceError::Forbidden(_))), "{}", env.name);
        s.set_calendar(&admin, Some(SCHOOL), &csv).expect("a school's own");
        let other_school = s.set_calendar(&admin, Some("2034001"), &csv);
        assert!(matches!(other_school, Err(ServiceError::Invalid(_))), "{}: not the council's school", env.name);
        let Err(ServiceError::Invalid(e)) =
            s.set_calendar(&admin, None, "kind,start,end,description\nterm,2025-13-01,2025-12-01,x\n")
        else {
            panic!("refused")
        };
        assert_eq!(e[0].field, "calendar line 2", "{}", env.name);
        assert!(s.calendar(&cw, None).expect("read").is_none(), "{}: the council's own not loaded", env.name);
        assert_eq!(s.calendar(&cw, Some(SCHOOL)).expect("read").map(|(c, _)| c.terms), Some(1));
    }
}

#[test]
fn the_consent_rule_is_asked_decided_told_and_enforced_on_a_home_education_notice() {
    use cnis_app::service::cases::{ConsentAsk, ConsentDecision};
    use cnis_core::casework::{CareEpisode, CareKind, ConsentGround};
    for env in services() {
        let s = &env.service;
        let school = account(s, "office@school.example.invalid", Role::School, "202", Some(SCHOOL));
        let cw = account(s, "cw@202.example.invalid", Role::Caseworker, "202", None);
        let tm = account(s, "tm@202.example.invalid", Role::TeamManager, "202", None);
        // A child the council knows, with a child protection plan current today.
        let dob = dob_aged(12);
        let known = s
            .create_entry(
                &cw,
                NewEntry {
                    content: EntryContent {
                        given_name: "Ivy".into(),
                        family_name: "Marsh".into(),
                        dob: dob.clone(),
                        ..EntryContent::default()
                    },
                    source: EntrySource::Hand,
                    child_id: None,
                    restricted: None,
                },
                "known to the council",
            )
            .expect("entry");
        let child = known.entry.child_id.clone();
        let plan = CareEpisode {
            kind: CareKind::ChildProtectionPlan,
            start: today() - Days::new(90),
            end: None,
            risk_of_harm_at_home: true,
        };
        s.record_care(&cw, &child, vec![plan]).expect("care");
        let bad = CareEpisode {
            kind: CareKind::Section47,
            start: today(),
            end: Some(today() - Days::new(1)),
            risk_of_harm_at_home: false,
        };
        assert!(matches!(s.record_care(&cw, &child, vec![bad]), Err(ServiceError::Invalid(_))), "{}", env.name);

        let ask = |given: &str, family: &str, special| ConsentAsk {
            given_name: given.into(),
            family_name: family.into(),
            dob: dob.clone(),
            upn: None,
            proposed_on: today().to_string(),
            special_school: special,
        };
        let waiting = s.ask_consent(&school, ask("Ivy", "Marsh", false)).expect("ask");
        assert_eq!(waiting.status, "waiting", "{}: a current plan makes a relevant child", env.name);
        let free = s.ask_consent(&school, ask("Noah", "Unknownchild", false)).expect("ask");
        assert_eq!(free.status, "not_needed", "{}: not known to social care", env.name);
        let special = s.ask_consent(&school, ask("Mo", "Special", true)).expect("ask");
        assert_eq!(special.status, "waiting", "{}: a special school", env.name);

        let council_view = s.consent_requests(&cw).expect("list");
        let r = council_view.iter().find(|r| r.id == waiting.id).expect("request");
        assert_eq!(r.child_id, child, "{}: matched to the known child", env.name);
        assert_eq!(r.grounds, [ConsentGround::ChildProtectionPlan]);

        let refuse = ConsentDecision {
            consent: false,
            reasons: "School attendance is in the child's best interests while the plan is in place".into(),
        };
        assert!(
            matches!(s.decide_consent(&cw, waiting.id, refuse.clone()), Err(ServiceError::Forbidden(_))),
            "{}: a caseworker cannot decide",
            env.name
        );
        let decided = s.decide_consent(&tm, waiting.id, refuse.clone()).expect("decide");
        assert_eq!(decided.consent, Some(false));
        assert!(
            matches!(s.decide_consent(&tm, waiting.id, refuse.clone()), Err(ServiceError::Conflict(_))),
            "{}: decided once",
            env.name
        );
        assert!(
            matches!(s.decide_consent(&tm, free.id, refuse), Err(ServiceError::Conflict(_))),
            "{}: nothing to decide",
            env.name
        );

        // The school is told, and the parents through the outbox.
        let answers = s.consent_answers(&school).expect("answers");
        let a = answers.iter().find(|a| a.id == waiting.id).expect("answer");
        assert_eq!(a.status, "refused");
        assert!(a.reasons.as_deref().is_some_and(|r| r.contains("best interests")));
        let outbox = s.outbox(&tm, true).expect("outbox");
        let told: Vec<&str> =
            outbox.iter().filter(|m| m.kind == "consent.decided").map(|m| m.audience.as_str()).collect();
        assert_eq!(told, [format!("school:{SCHOOL}").as_str(), "parents"], "{}", env.name);

        // A home-education deletion without consent is flagged at once.
        let mut n = notice(SCHOOL, "9(1)(f)", "Ivy", "Marsh", None);
        n.dob = dob.clone();
        let r = s.submit_notice(&school, n).expect("notice");
        assert_eq!(r.notice.child_id, child);
        let case = s.case(&cw, r.case_id.expect("case")).expect("case").case;
        assert!(
            case.content.flags.iter().any(|f| f.contains("without the council's consent")),
            "{}: {:?}",
            env.name,
            case.content.flags
        );
        assert!(case.content.flags.iter().any(|f| f.contains("at risk of harm at home")), "{}", env.name);
        // A child not relevant gets no consent flag.
        let r = s.submit_notice(&school, notice(SCHOOL, "9(1)(f)", "Noah", "Unknownchild", None)).expect("notice");
        assert!(s.case(&cw, r.case_id.expect("case")).expect("case").case.content.flags.is_empty(), "{}", env.name);
        assert!(s.verify_audit().expect("verify").first_broken.is_none());
    }
}

#[test]
fn a_ten_day_absence_report_opens_a_case_due_on_the_twentieth_school_day_and_overdue_cases_escalate_once() {
    use cnis_app::service::cases::AbsenceReport;
    for env in services() {
        let s = &env.service;
        let school = account(s, "office@school.example.invalid", Role::School, "202", Some(SCHOOL));
        let cw = account(s, "cw@202.example.invalid", Role::Caseworker, "202", None);
        let tm = account(s, "tm@202.example.invalid", Role::TeamManager, "202", None);
        let (csv, cal) = calendar_with_closures();
        s.set_calendar(&tm, None, &csv).expect("calendar");
        // Absent since 16 calendar days ago (a weekday at or before it).
        let mut first = today() - Days::new(16);
        while matches!(first.weekday(), Weekday::Sat | Weekday::Sun) {
            first = first.pred_opt().expect("day");
        }
        let report = AbsenceReport {
            given_name: "Tess".into(),
            family_name: "Durbey".into(),
            dob: dob_aged(13),
            first_day_absent: first.to_string(),
            ..AbsenceReport::default()
        };
        let r = s.report_absence(&school, report.clone()).expect("report");
        assert!(r.case_opened, "{}", env.name);
        let expected = cal.add_school_days(first.pred_opt().expect("day"), 20).expect("in the term");
        assert_eq!(r.enquiries_due, Some(expected), "{}: the 20th school day of the absence", env.name);
        assert_eq!(cal.school_days_between(first.pred_opt().expect("day"), expected), 20);
        let again = s.report_absence(&school, report).expect("again");
        assert!(!again.case_opened, "{}: the open case takes a second report", env.name);
        let cases = s.cases(&cw, &CaseFilter::default(), 1, 10).expect("cases");
        assert_eq!(cases.total, 1);
        assert!(cases.items[0].content.summary.contains("Absence reported"), "{}", env.name);
        assert_eq!(cases.items[0].source, cnis_core::casework::CaseSource::AbsenceReport);
        // No register entry: the child is still on a roll.
        assert!(s.child(&cw, &cases.items[0].child_id).is_err(), "{}", env.name);
        let bad = AbsenceReport { first_day_absent: (today() + Days::new(1)).to_string(), ..AbsenceReport::default() };
        let Err(ServiceError::Invalid(e)) = s.report_absence(&school, bad) else { panic!("refused") };
        assert!(e.iter().any(|f| f.field == "first_day_absent"), "{}", env.name);

        // A day after the deadline, the sweep escalates it, once.
        let later = expected + Days::new(1);
        assert_eq!(s.escalate_overdue(later).expect("escalate"), 1, "{}", env.name);
        assert_eq!(s.escalate_overdue(later).expect("again"), 0, "{}: only once", env.name);
        assert_eq!(s.escalate_overdue(expected).expect("on the day"), 0, "{}: not before it is overdue", env.name);
        let view = s.case(&cw, cases.items[0].id).expect("case");
        assert_eq!(view.case.content.escalated_on, Some(later.to_string()));
        assert_eq!(view.history.last().map(|h| h.action.as_str()), Some("escalated"));
        let told = s.outbox(&tm, true).expect("outbox");
        assert!(told.iter().any(|m| m.kind == "case.overdue" && m.audience == "team_managers"), "{}", env.name);
        assert!(s.verify_audit().expect("verify").first_broken.is_none());
    }
}

#[test]
fn a_notices_file_takes_the_good_rows_and_quarantines_the_rest_by_line_and_column() {
    for env in services() {
        let s = &env.service;
        let school = account(s, "office@school.example.invalid", Role::School, "202", Some(SCHOOL));
        let cw = account(s, "cw@202.example.invalid", Role::Caseworker, "202", None);
        let day = (today() - Days::new(2)).to_string();
        let dob = dob_aged(10);
        // Columns in the school's own order, a byte-order mark, a blank
        // optional column, and four bad rows among three good ones.
        let text = format!(
            "\u{feff}Family_Name,given_name,dob,deletion_date,ground,destination,destination_school,upn\n\
             Able,Ann,{dob},{day},9(1)(i),,,\n\
             Baker,Ben,{dob},{day},9(1)(z),,,\n\
             Cole,Cat,not a date,{day},9(1)(f),,,\n\
             Dane,Dan,{dob},{day},9(1)(a),other_school,,\n\
             Eyre,Eve,{dob},{day},9(1)(a),somewhere,,\n\
             Ford,Fay,{dob},{day}\n\
             Gale,Gus,{dob},{day},9(1)(a),other_school,2034001,\n\
             Hart,Hal,{dob},{day},9(1)(f),,,\n"
        );
        let r = s.submit_notices_csv(&school, &text).expect("upload");
        assert_eq!(r.rows, 8, "{}", env.name);
        assert_eq!(r.accepted.len() + r.rejected, r.rows, "{}: rows in = accepted + quarantined", env.name);
        assert_eq!(r.accepted.len(), 3, "{}: {:?}", env.name, r.quarantined);
        let at: Vec<(u64, &str)> = r.quarantined.iter().map(|q| (q.line, q.field.as_str())).collect();
        for want in [(3, "ground"), (4, "dob"), (5, "destination_school"), (6, "destination"), (7, "row")] {
            assert!(at.contains(&want), "{}: {want:?} in {at:?}", env.name);
        }
        // No reason repeats a value sent.
        assert!(r.quarantined.iter().all(|q| !q.reason.contains("somewhere") && !q.reason.contains("not a date")));
        assert_eq!(s.notices(&cw, 1, 50).expect("list").total, 3, "{}", env.name);
        // The same file as Windows writes it, with \r\n endings, a blank
        // line and a quoted field over two lines: the same lines named.
        let windows = text
            .replace('\n', "\r\n")
            .replace("Able,Ann", "\"Able\r\nAbleson\",Ann")
            .replace("Hart,Hal", "\r\nHart,Hal");
        let again = s.submit_notices_csv(&school, &windows).expect("upload");
        let lines: Vec<(u64, &str)> = again.quarantined.iter().map(|q| (q.line, q.field.as_str())).collect();
        for want in [(4, "ground"), (5, "dob"), (6, "destination_school"), (7, "destination"), (8, "row")] {
            assert!(lines.contains(&want), "{}: {want:?} in {lines:?}", env.name);
        }
        let bad_header = s.submit_notices_csv(&school, "deletion_date,ground,favourite_colour\n");
        assert!(matches!(bad_header, Err(ServiceError::Invalid(_))), "{}", env.name);
        let missing = s.submit_notices_csv(&school, "deletion_date,ground,given_name,family_name\n");
        assert!(matches!(missing, Err(ServiceError::Invalid(e)) if e[0].field == "dob"), "{}", env.name);
        assert!(matches!(s.submit_notices_csv(&cw, &text), Err(ServiceError::Forbidden(_))), "{}", env.name);
    }
}

#[test]
fn the_scrutiny_view_counts_each_school_s_deletions_by_ground_and_by_who_was_deleted() {
    use cnis_core::casework::{CareEpisode, CareKind};
    for env in services() {
        let s = &env.service;
        let school = account(s, "office@school.example.invalid", Role::School, "202", Some(SCHOOL));
        let other = account(s, "office@school2.example.invalid", Role::School, "202", Some("2024002"));
        let cw = account(s, "cw@202.example.invalid", Role::Caseworker, "202", None);
        let with = |ground: &str, given: &str, sen: Option<&str>, absence: Option<f64>| {
            let mut n = notice("", ground, given, "Scrutiny", None);
            n.sen = sen.map(str::to_string);
            n.absence_percent = absence;
            n
        };
        // School 1: five notices; school 2: one.
        let he = s.submit_notice(&school, with("9(1)(f)", "Ann", Some("E"), Some(55.0))).expect("1");
        s.submit_notice(&school, with("9(1)(f)", "Bea", Some("K"), Some(12.5))).expect("2");
        s.submit_notice(&school, with("9(1)(i)", "Cal", Some("N"), Some(9.9))).expect("3");
        s.submit_notice(&school, with("9(1)(a)", "Dot", None, None)).expect("4");
        s.submit_notice(&school, with("9(1)(f)", "Eli", Some("k"), Some(10.0))).expect("5");
        s.submit_notice(&other, with("9(1)(i)", "Fin", Some("N"), Some(0.0))).expect("6");
        // Ann has a child protection plan current on her deletion date.
        let plan = CareEpisode {
            kind: CareKind::ChildProtectionPlan,
            start: today() - Days::new(200),
            end: None,
            risk_of_harm_at_home: false,
        };
        s.record_care(&cw, &he.notice.child_id, vec![plan]).expect("care");
        let bad = s.submit_notice(&school, with("9(1)(f)", "Gil", Some("X"), Some(101.0)));
        let Err(ServiceError::Invalid(e)) = bad else { panic!("refused") };
        assert_eq!(e.iter().map(|f| f.field.as_str()).collect::<Vec<_>>(), ["sen", "absence_percent"], "{}", env.name);

        let v = s.deregistration_scrutiny(&cw, None, today() - Days::new(30), today()).expect("scrutiny");
        assert_eq!(v.all.notices, 6, "{}", env.name);
        assert_eq!(v.schools.len(), 2);
        let first = &v.schools[0];
        assert_eq!((first.school.as_str(), first.notices), (SCHOOL, 5), "{}: most notices first", env.name);
        let grounds: Vec<(&str, usize)> = first.by_ground.iter().map(|g| (g.ground.as_str(), g.count)).collect();
        assert_eq!(grounds, [("9(1)(f)", 3), ("9(1)(a)", 1), ("9(1)(i)", 1)], "{}", env.name);
        assert_eq!((first.sen_support, first.ehc_plan), (2, 1), "{}: K twice (one written k), E once", env.name);
        assert_eq!(first.child_protection_plan, 1, "{}", env.name);
        assert_eq!(
            (first.persistently_absent, first.severely_absent),
            (3, 1),
            "{}: 55, 12.5 and 10 are 10% or more",
            env.name
        );
        assert_eq!(first.not_stated, 1, "{}", env.name);
        assert_eq!(v.all.persistently_absent, 3);
        // Outside the period: nothing.
        let before =
            s.deregistration_scrutiny(&cw, None, today() - Days::new(400), today() - Days::new(40)).expect("earlier");
        assert_eq!(before.all.notices, 0, "{}", env.name);
        assert!(matches!(
            s.deregistration_scrutiny(&cw, None, today(), today() - Days::new(1)),
            Err(ServiceError::Invalid(_))
        ));
        assert!(matches!(
            s.deregistration_scrutiny(&school, None, today() - Days::new(30), today()),
            Err(ServiceError::Forbidden(_))
        ));
        // A caseworker sees their own council only.
        let c203 = Some(LaCode::parse("203").expect("LA"));
        let c202 = Some(LaCode::parse("202").expect("LA"));
        assert!(matches!(
            s.deregistration_scrutiny(&cw, c203, today() - Days::new(30), today()),
            Err(ServiceError::Forbidden(_))
        ));
        assert_eq!(s.deregistration_scrutiny(&cw, c202, today() - Days::new(30), today()).expect("own").all.notices, 6);
        // An inspector names any council and sees the same counts; without
        // a council the request is incomplete.
        s.add_account(
            None,
            &cnis_app::service::accounts::NewAccount {
                email: "inspector@inspectorate.example.invalid".into(),
                name: "Inspector".into(),
                role: Role::Inspector,
                council: None,
                school: None,
                password: Some("correct horse battery".into()),
            },
        )
        .expect("inspector");
        let inspector = s.actor_for("inspector@inspectorate.example.invalid").expect("actor");
        let seen = s.deregistration_scrutiny(&inspector, c202, today() - Days::new(90), today()).expect("inspector");
        assert_eq!((seen.council.as_str(), seen.all.notices), ("202", 6), "{}", env.name);
        assert_eq!(seen.schools[0].by_ground.len(), 3);
        assert_eq!(
            s.deregistration_scrutiny(&inspector, c203, today() - Days::new(90), today()).expect("203").all.notices,
            0
        );
        assert!(matches!(
            s.deregistration_scrutiny(&inspector, None, today() - Days::new(90), today()),
            Err(ServiceError::Invalid(_))
        ));
        // A short period, whose counts could be one child's, is refused to
        // an inspector (not to the council's own staff).
        assert!(matches!(
            s.deregistration_scrutiny(&inspector, c202, today() - Days::new(30), today()),
            Err(ServiceError::Invalid(_))
        ));
        // Nothing else of the council's is open to an inspector.
        assert!(matches!(s.cases(&inspector, &Default::default(), 1, 10), Err(ServiceError::Forbidden(_))));
        assert!(matches!(s.notices(&inspector, 1, 10), Err(ServiceError::Forbidden(_))));
    }
}

#[test]
fn a_handover_is_offered_seen_by_both_councils_acknowledged_and_escalated_when_it_is_not() {
    use cnis_app::service::cases::OfferHandover;
    for env in services() {
        let s = &env.service;
        let school = account(s, "office@school.example.invalid", Role::School, "202", Some(SCHOOL));
        let cw = account(s, "cw@202.example.invalid", Role::Caseworker, "202", None);
        let theirs = account(s, "cw@203.example.invalid", Role::Caseworker, "203", None);
        let far = account(s, "cw@204.example.invalid", Role::Caseworker, "204", None);
        let r = s.submit_notice(&school, notice(SCHOOL, "9(1)(i)", "Hana", "Mori", None)).expect("notice");
        let (child, case_id) = (r.notice.child_id.clone(), r.case_id.expect("case"));
        assert!(s.child(&theirs, &child).is_err(), "{}: not theirs yet", env.name);

        let offer =
            |to: &str| OfferHandover { child_id: child.clone(), to_council: to.into(), reason: "moved to 203".into() };
        assert!(
            matches!(s.offer_handover(&theirs, offer("204")), Err(ServiceError::NotFound(_))),
            "{}: not theirs to offer",
            env.name
        );
        assert!(
            matches!(s.offer_handover(&cw, offer("202")), Err(ServiceError::Invalid(_))),
            "{}: own council",
            env.name
        );
        assert!(
            matches!(s.offer_handover(&cw, offer("999")), Err(ServiceError::Invalid(_))),
            "{}: no such council",
            env.name
        );
        let h = s.offer_handover(&cw, offer("203")).expect("offer");
        assert!(matches!(s.offer_handover(&cw, offer("203")), Err(ServiceError::Conflict(_))), "{}: once", env.name);

        // Until acknowledged both councils see the child and the case;
        // a third does not; neither may close the case.
        assert!(s.child(&theirs, &child).is_ok(), "{}: the receiving council sees the child", env.name);
        assert!(s.case(&theirs, case_id).is_ok(), "{}: and the case", env.name);
        assert!(s.child(&far, &child).is_err() && s.case(&far, case_id).is_err(), "{}", env.name);
        let version = s.case(&cw, case_id).expect("case").case.version;
        let close =
            CloseCase { version, outcome: CaseOutcome::MovedToKnownCouncil, located_on: None, note: "moved".into() };
        assert!(
            matches!(s.close_case(&cw, case_id, close), Err(ServiceError::Conflict(_))),
            "{}: not while handing over",
            env.name
        );
        assert!(
            matches!(s.acknowledge_handover(&cw, h.id), Err(ServiceError::NotFound(_))),
            "{}: the sender cannot",
            env.name
        );

        // Unacknowledged past its escalation day: escalated once.
        let due = h.due_on.expect("due");
        // (The case itself, due sooner, is escalated by the same sweep.)
        assert_eq!(s.escalate_overdue(due + Days::new(1)).expect("sweep"), 2, "{}", env.name);
        assert_eq!(s.escalate_overdue(due + Days::new(1)).expect("sweep"), 0, "{}: once", env.name);

        let done = s.acknowledge_handover(&theirs, h.id).expect("acknowledge");
        assert!(done.acknowledged_at.is_some());
        assert!(matches!(s.acknowledge_handover(&theirs, h.id), Err(ServiceError::Conflict(_))), "{}", env.name);
        // The child is on 203's register and 203 holds the open case; 202's
        // entry left (moved away) and its case closed.
        let view = s.child(&theirs, &child).expect("child");
        assert!(
            view.entries.iter().any(|e| e.entry.council == "203" && e.entry.status == EntryStatus::Draft),
            "{}",
            env.name
        );
        let old = s.case(&cw, case_id).expect("old case").case;
        assert_eq!(
            (old.status, old.outcome),
            (CaseStatus::Closed, Some(CaseOutcome::MovedToKnownCouncil)),
            "{}",
            env.name
        );
        let moved = s.cases(&theirs, &CaseFilter::default(), 1, 10).expect("their cases");
        assert_eq!(moved.total, 1, "{}", env.name);
        assert!(moved.items[0].content.summary.starts_with("Handed over by council 202"));
        assert!(
            s.child(&cw, &child)
                .expect("still the sender's to read")
                .entries
                .iter()
                .any(|e| e.entry.council == "202" && e.entry.status == EntryStatus::Left)
        );
        let audit = s.subject_access_export(None, &child).expect("export");
        let kinds: Vec<&str> = audit.events.iter().map(|e| e.action.as_str()).collect();
        for k in ["handover.offer", "handover.escalated", "handover.acknowledge"] {
            assert!(kinds.contains(&k), "{}: {k} in {kinds:?}", env.name);
        }
        assert!(s.verify_audit().expect("verify").first_broken.is_none());
    }
}

#[test]
fn a_home_education_case_goes_from_notification_to_an_order_in_the_law_s_order_and_the_entry_keeps_step() {
    use cnis_app::service::cases::NewHeStep;
    use cnis_core::casework::{HeStage, HeStep};
    for env in services() {
        let s = &env.service;
        let school = account(s, "office@school.example.invalid", Role::School, "202", Some(SCHOOL));
        let cw = account(s, "cw@202.example.invalid", Role::Caseworker, "202", None);
        let r = s.submit_notice(&school, notice(SCHOOL, "9(1)(f)", "Ada", "Byron", None)).expect("notice");
        let id = r.case_id.expect("a home-education case");
        let entry = r.draft_entry_id.expect("a draft");
        let step = |stage: HeStage, days_ago: u64| HeStep {
            stage,
            on: today() - Days::new(days_ago),
            note: "recorded".into(),
            document: None,
            satisfy_by: None,
            suitable: None,
            school: None,
            recorded_by: 0,
        };
        let mut version = s.case(&cw, id).expect("case").case.version;
        let mut record = |st: HeStep| {
            let out = s.record_he_step(&cw, id, NewHeStep { version, step: st });
            if let Ok(c) = &out {
                version = c.version;
            }
            out
        };
        record(step(HeStage::Notified, 60)).expect("notified");
        record(HeStep { suitable: Some(false), ..step(HeStage::Assessed, 50) }).expect("assessed");
        // 14 days beginning with the day served is too short; the field is named.
        let short = HeStep { satisfy_by: Some(today() - Days::new(27)), ..step(HeStage::NoticeToSatisfy, 40) };
        let Err(ServiceError::Invalid(e)) = record(short) else { panic!("{}: refused", env.name) };
        assert_eq!(e[0].field, "step.satisfy_by", "{}", env.name);
        let to_satisfy = HeStep { satisfy_by: Some(today() - Days::new(26)), ..step(HeStage::NoticeToSatisfy, 40) };
        let c = record(to_satisfy).expect("notice to satisfy");
        assert_eq!(c.due_on, Some(today() - Days::new(26)), "{}: the deadline is the notice's", env.name);
        // An order needs a notice of intended school first.
        let early = HeStep { school: Some("2024002".into()), ..step(HeStage::OrderServed, 20) };
        assert!(matches!(record(early), Err(ServiceError::Invalid(_))), "{}", env.name);
        record(HeStep { school: Some("2024002".into()), ..step(HeStage::NoticeOfIntendedSchool, 20) })
            .expect("intended school");
        // The parent has 15 days to choose a school.
        let soon = HeStep { school: Some("2024002".into()), ..step(HeStage::OrderServed, 10) };
        assert!(matches!(record(soon), Err(ServiceError::Invalid(_))), "{}", env.name);
        let c = record(HeStep { school: Some("2024002".into()), ..step(HeStage::OrderServed, 5) }).expect("order");
        assert_eq!(c.content.he_steps.len(), 5);
        // A stale version is refused; the entry's timeline has every step.
        let stale = s.record_he_step(&cw, id, NewHeStep { version: 1, step: step(HeStage::OrderRevoked, 0) });
        assert!(matches!(stale, Err(ServiceError::Conflict(_))), "{}: {stale:?}", env.name);
        let child = s.child(&cw, &r.notice.child_id).expect("child");
        let rows = &child.history.iter().find(|h| h.entry_id == entry).expect("history").rows;
        let steps = rows.iter().filter(|h| h.action.starts_with("home education:")).count();
        assert_eq!(steps, 5, "{}", env.name);
        // A missing-education case has no such steps.
        let me = s.submit_notice(&school, notice(SCHOOL, "9(1)(i)", "Kit", "Marlowe", None)).expect("notice");
        let me_id = me.case_id.expect("case");
        let v = s.case(&cw, me_id).expect("case").case.version;
        let wrong = s.record_he_step(&cw, me_id, NewHeStep { version: v, step: step(HeStage::Notified, 1) });
        assert!(matches!(wrong, Err(ServiceError::Conflict(_))), "{}", env.name);
    }
}

#[test]
fn a_referral_from_another_agency_opens_a_case_and_a_second_joins_it() {
    use cnis_app::service::cases::Referral;
    use cnis_core::casework::CaseSource;
    for env in services() {
        let s = &env.service;
        let cw = account(s, "cw@202.example.invalid", Role::Caseworker, "202", None);
        let school = account(s, "office@school.example.invalid", Role::School, "202", Some(SCHOOL));
        let referral = |source: Option<CaseSource>, given: &str| Referral {
            source,
            referrer: "Health visitor, north locality".into(),
            given_name: given.into(),
            family_name: "Okonjo".into(),
            dob: dob_aged(9),
            postcode: Some("XA1 2BC".into()),
            summary: "Family arrived in March; the child is not at any school".into(),
            ..Referral::default()
        };
        // Bad input names the fields.
        let Err(ServiceError::Invalid(e)) =
            s.refer_child(&cw, Referral { dob: "yesterday".into(), ..referral(None, "") })
        else {
            panic!("{}: refused", env.name)
        };
        let fields: Vec<&str> = e.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["source", "given_name", "dob"], "{}", env.name);
        // A notice's source is not a referral's.
        let wrong = s.refer_child(&cw, referral(Some(CaseSource::DeletionNotice), "Chidi"));
        assert!(matches!(wrong, Err(ServiceError::Invalid(_))), "{}", env.name);
        assert!(matches!(
            s.refer_child(&school, referral(Some(CaseSource::Public), "Chidi")),
            Err(ServiceError::Forbidden(_))
        ));

        let first = s.refer_child(&cw, referral(Some(CaseSource::OtherAgency), "Chidi")).expect("referral");
        assert!(first.case_opened, "{}", env.name);
        assert_eq!(first.matched, ChildMatch::New);
        let draft = first.draft_entry_id.expect("a draft");
        assert_eq!(s.entry(&cw, draft).expect("entry").entry.status, EntryStatus::Draft);
        let case = s.case(&cw, first.case_id).expect("case").case;
        assert_eq!(case.source, CaseSource::OtherAgency);
        assert_eq!(case.kind, CaseKind::MissingEducation);
        assert!(case.due_on.is_some_and(|d| d > today()), "{}: a deadline ahead", env.name);
        assert!(case.content.summary.contains("Health visitor"), "{}", env.name);
        // A neighbour rings about the same child: it joins the open case.
        let second = s.refer_child(&cw, referral(Some(CaseSource::Public), "Chidi")).expect("second");
        assert_eq!(second.child_id, first.child_id, "{}: matched by name, date of birth and postcode", env.name);
        assert!(matches!(second.matched, ChildMatch::Details { .. }), "{}: {:?}", env.name, second.matched);
        assert!(!second.case_opened);
        assert_eq!(second.case_id, first.case_id);
        assert_eq!(second.draft_entry_id, None, "{}: already on the register", env.name);
        let history = s.case(&cw, first.case_id).expect("case").history;
        assert_eq!(history.iter().filter(|h| h.action == "referral").count(), 1, "{}", env.name);
    }
}

#[test]
fn a_task_is_set_on_a_case_escalated_once_when_overdue_and_marked_done() {
    use cnis_app::service::cases::{CompleteTask, NewTask};
    for env in services() {
        let s = &env.service;
        let school = account(s, "office@school.example.invalid", Role::School, "202", Some(SCHOOL));
        let cw = account(s, "cw@202.example.invalid", Role::Caseworker, "202", None);
        let other = account(s, "cw@203.example.invalid", Role::Caseworker, "203", None);
        let manager = account(s, "tm@202.example.invalid", Role::TeamManager, "202", None);
        let r = s.submit_notice(&school, notice(SCHOOL, "9(1)(i)", "Tomasz", "Wrona", None)).expect("notice");
        let case_id = r.case_id.expect("case");
        let Err(ServiceError::Invalid(e)) =
            s.add_task(&cw, case_id, NewTask { title: " ".into(), due_on: Some("soon".into()), assigned_to: None })
        else {
            panic!("{}: refused", env.name)
        };
        assert_eq!(e.iter().map(|f| f.field.as_str()).collect::<Vec<_>>(), ["title", "due_on"]);
        let not_ours =
            s.add_task(&cw, case_id, NewTask { title: "visit".into(), due_on: None, assigned_to: Some(other.user_id) });
        assert!(matches!(not_ours, Err(ServiceError::Invalid(_))), "{}: another council's worker", env.name);
        assert!(matches!(
            s.add_task(&other, case_id, NewTask { title: "visit".into(), ..NewTask::default() }),
            Err(ServiceError::NotFound(_))
        ));
        let yesterday = (today() - Days::new(1)).to_string();
        let task = s
            .add_task(
                &manager,
                case_id,
                NewTask { title: "Home visit".into(), due_on: Some(yesterday), assigned_to: Some(cw.user_id) },
            )
            .expect("task");
        assert_eq!(s.my_tasks(&cw).expect("mine").len(), 1, "{}", env.name);
        assert!(s.my_tasks(&manager).expect("mine").is_empty());
        // Overdue: escalated once, to the worker and the team managers.
        assert!(s.escalate_overdue(today()).expect("sweep") >= 1);
        let out = s.outbox(&manager, false).expect("outbox");
        let overdue: Vec<&str> = out.iter().filter(|m| m.kind == "task.overdue").map(|m| m.audience.as_str()).collect();
        assert_eq!(overdue.len(), 2, "{}: {overdue:?}", env.name);
        assert!(overdue.contains(&format!("user:{}", cw.user_id).as_str()));
        s.escalate_overdue(today()).expect("again");
        let again = s.outbox(&manager, false).expect("outbox").iter().filter(|m| m.kind == "task.overdue").count();
        assert_eq!(again, 2, "{}: escalated once", env.name);
        let done =
            s.complete_task(&cw, task.id, CompleteTask { note: "Visited; family at home".into() }).expect("done");
        assert!(done.done_at.is_some() && done.escalated, "{}", env.name);
        assert!(matches!(
            s.complete_task(&cw, task.id, CompleteTask { note: "again".into() }),
            Err(ServiceError::Conflict(_))
        ));
        assert!(s.my_tasks(&cw).expect("mine").is_empty());
        let view = s.case(&cw, case_id).expect("case");
        assert_eq!(view.tasks.len(), 1);
        assert_eq!(view.tasks[0].done_note.as_deref(), Some("Visited; family at home"));
    }
}

#[test]
fn a_child_s_social_care_is_shown_to_the_council_s_team_managers_and_no_one_else() {
    use cnis_core::casework::{CareEpisode, CareKind};
    for env in services() {
        let s = &env.service;
        let cw = account(s, "cw@202.example.invalid", Role::Caseworker, "202", None);
        let tm = account(s, "tm@202.example.invalid", Role::TeamManager, "202", None);
        let other = account(s, "tm@203.example.invalid", Role::TeamManager, "203", None);
        let content = EntryContent {
            given_name: "Care".into(),
            family_name: "Shown".into(),
            dob: dob_aged(9),
            ..EntryContent::default()
        };
        let new = NewEntry { content, source: EntrySource::Hand, child_id: None, restricted: None };
        let entry = s.create_entry(&cw, new, "parent told us").expect("entry");
        let child = entry.entry.child_id.clone();
        assert_eq!(s.child(&tm, &child).expect("read").care, Some(vec![]), "{}: none recorded yet", env.name);
        let plan = CareEpisode {
            kind: CareKind::ChildProtectionPlan,
            start: today() - Days::new(40),
            end: None,
            risk_of_harm_at_home: true,
        };
        let ended = CareEpisode {
            kind: CareKind::ChildInNeed,
            start: today() - Days::new(400),
            end: Some(today() - Days::new(100)),
            risk_of_harm_at_home: false,
        };
        // A caseworker records them (from the case system) but does not read
        // child-protection information back.
        s.record_care(&cw, &child, vec![ended.clone(), plan.clone()]).expect("care");
        assert_eq!(s.child(&cw, &child).expect("read").care, None, "{}", env.name);
        assert_eq!(s.child(&tm, &child).expect("read").care, Some(vec![ended, plan]), "{}", env.name);
        // Another council can neither record nor read it.
        assert!(s.child(&other, &child).is_err());
        let more = CareEpisode { kind: CareKind::Section47, start: today(), end: None, risk_of_harm_at_home: false };
        assert!(matches!(s.record_care(&other, &child, vec![more]), Err(ServiceError::NotFound(_))), "{}", env.name);
    }
}

#[test]
fn the_dashboard_counts_the_council_s_waiting_work_and_the_child_s_page_lists_its_cases() {
    use cnis_app::service::cases::{NewTask, OfferHandover};
    for env in services() {
        let s = &env.service;
        let school = account(s, "office@school.example.invalid", Role::School, "202", Some(SCHOOL));
        let cw = account(s, "cw@202.example.invalid", Role::Caseworker, "202", None);
        let other = account(s, "cw@203.example.invalid", Role::Caseworker, "203", None);
        let before = s.dashboard(&cw).expect("dashboard").work;
        assert_eq!(before, Default::default(), "{}: nothing yet", env.name);

        // Three notices open three cases. A notice sent today of a deletion
        // a month ago is recent; one sent three weeks ago is not.
        let first = s.submit_notice(&school, notice(SCHOOL, "9(1)(i)", "Una", "Counted", None)).expect("1");
        let mut old = notice(SCHOOL, "9(1)(i)", "Vic", "Counted", None);
        old.deletion_date = (today() - Days::new(30)).to_string();
        s.submit_notice(&school, old).expect("2");
        let sent_before = s.submit_notice(&school, notice(SCHOOL, "9(1)(i)", "Wyn", "Counted", None)).expect("3");
        let three_weeks = cnis_app::service::now_ms() - 21 * 86_400_000;
        s.db()
            .write(|tx| {
                tx.execute(
                    "UPDATE deletion_notices SET submitted_at = $1 WHERE id = $2",
                    &[three_weeks.into(), sent_before.notice.id.into()],
                )
            })
            .expect("backdate");
        let case = first.case_id.expect("a case");
        let late = NewTask {
            title: "ring the family".into(),
            due_on: Some((today() - Days::new(2)).to_string()),
            assigned_to: Some(cw.user_id),
        };
        s.add_task(&cw, case, late).expect("task");
        let later = NewTask { title: "visit".into(), due_on: None, assigned_to: Some(cw.user_id) };
        s.add_task(&cw, case, later).expect("task");
        let w = s.dashboard(&cw).expect("dashboard").work;
        assert_eq!((w.open_cases, w.recent_notices), (3, 2), "{}", env.name);
        assert_eq!((w.my_open_tasks, w.my_overdue_tasks), (2, 1), "{}", env.name);
        // The 30-day-old deletion's case has a deadline already passed.
        let overdue = s.cases(&cw, &CaseFilter { due_before: Some(today()), ..Default::default() }, 1, 50).expect("l");
        assert_eq!(w.overdue_cases, overdue.total, "{}", env.name);

        // A handover offered to council 203 waits on 203's dashboard.
        let child = first.notice.child_id.clone();
        s.offer_handover(
            &cw,
            OfferHandover { child_id: child.clone(), to_council: "203".into(), reason: "moved".into() },
        )
        .expect("offer");
        assert_eq!(s.dashboard(&other).expect("203").work.handovers_waiting, 1, "{}", env.name);
        assert_eq!(s.dashboard(&cw).expect("202").work.handovers_waiting, 0, "{}", env.name);

        // The child's page lists the council's case for them, and another
        // council (seeing the child during the handover) sees only its own.
        let view = s.child(&cw, &child).expect("child");
        assert_eq!(view.cases.iter().map(|c| c.id).collect::<Vec<_>>(), [case], "{}", env.name);
        let theirs = s.child(&other, &child).expect("child during handover");
        assert!(theirs.cases.is_empty(), "{}: {:?}", env.name, theirs.cases);
    }
}
