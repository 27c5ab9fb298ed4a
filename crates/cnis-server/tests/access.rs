//! The access matrix: every endpoint the router serves, against every
//! role, in the role's own council and in another. The table is written
//! by hand; the endpoints are listed from the router, so a new endpoint
//! without a row here fails this test, and so does a row for an endpoint
//! that is gone.

mod common;

use std::collections::HashMap;

use cnis_core::register::Role;
use common::{PEOPLE, Server, Session, add_accounts, draft, servers};

/// What a role may get from an endpoint: the status expected.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// This status, for everyone.
    All(u16),
    /// `yes` for the roles named, `no` for the rest.
    Only(&'static [&'static str], u16, u16),
}

/// One endpoint's row: how to call it and what each role gets.
struct Row {
    method: &'static str,
    path: &'static str,
    /// The concrete request: path (ids filled in) and body.
    call: fn(&Fixture, &str) -> Call,
    expect: Expect,
}

enum Body {
    None,
    Json(serde_json::Value),
    Form(Vec<(&'static str, String)>),
    /// A page's file upload.
    File(Vec<u8>),
}

struct Call {
    path: String,
    body: Body,
}

/// What the matrix acts on: for each request, fresh entries made by the
/// owner in council 202 so no call depends on another's effect.
struct Fixture<'a> {
    server: &'a Server,
    owner: cnis_app::service::Actor,
    school: cnis_app::service::Actor,
    other_child: String,
}

impl Fixture<'_> {
    fn fresh(&self) -> (i64, String) {
        draft(&self.server.service, &self.owner, "Matrix", "Child")
    }

    /// A fresh missing-education case in council 202, from a notice of
    /// its school: its id and version.
    fn case(&self) -> (i64, i64) {
        let s = &self.server.service;
        let r = s.submit_notice(&self.school, notice_json_value()).expect("notice");
        let id = r.case_id.expect("a case");
        (id, s.case(&self.owner, id).expect("case").case.version)
    }

    /// A merge of two fresh children by the owner: its id.
    fn merged(&self) -> i64 {
        let m = cnis_app::service::identity::MergeChildren {
            kept: self.fresh().1,
            absorbed: self.fresh().1,
            reason: "the same pupil".into(),
        };
        self.server.service.merge_children(&self.owner, m).expect("merge").id
    }

    /// A provider on the owner's council's register: its id.
    fn provider(&self) -> i64 {
        let new = cnis_app::service::ap::NewProvider { content: provider_content(), reason: "matrix".into() };
        self.server.service.add_provider(&self.owner, new).expect("provider").id
    }

    /// A placement with a fresh provider: its id and version.
    fn placement(&self) -> (i64, i64) {
        let id = self.provider();
        let p = cnis_app::service::ap::PlaceChild {
            child_id: self.fresh().1,
            commissioner: cnis_core::ap::Commissioner::Council,
            school: None,
            start_on: (chrono::Utc::now().date_naive() - chrono::Days::new(14)).to_string(),
            planned_end_on: None,
            hours_per_week: 12.0,
            reason: "matrix".into(),
        };
        let placed = self.server.service.place_child(&self.owner, id, p).expect("placement");
        (placed.id, placed.version)
    }

    /// A task on a fresh case of council 202, set by the owner: its id.
    fn task(&self) -> i64 {
        let (case, _) = self.case();
        let t = cnis_app::service::cases::NewTask { title: "ring the family".into(), ..Default::default() };
        self.server.service.add_task(&self.owner, case, t).expect("task").id
    }

    /// A fresh home-education case in council 202: its id and version.
    fn he_case(&self) -> (i64, i64) {
        let s = &self.server.service;
        let n = cnis_core::casework::DeletionNotice { ground: "9(1)(f)".into(), ..notice_json_value() };
        let id = s.submit_notice(&self.school, n).expect("notice").case_id.expect("a case");
        (id, s.case(&self.owner, id).expect("case").case.version)
    }

    fn registered(&self) -> (i64, String) {
        let (id, child) = self.fresh();
        self.server.service.confirm_entry(&self.owner, id, 1, "checked").expect("confirm");
        (id, child)
    }
}

const CW: &[&str] = &["caseworker", "team_manager"];
const CW_ALL: &[&str] = &["caseworker", "team_manager", "caseworker_other", "team_manager_other"];
const PEOPLE_WITH_PASSWORDS: &[&str] = &[
    "caseworker",
    "team_manager",
    "council_admin",
    "school",
    "caseworker_other",
    "team_manager_other",
    "national_analyst",
    "auditor",
    "inspector",
];

fn entry_json(f: &Fixture) -> serde_json::Value {
    let _ = f;
    serde_json::json!({
        "content": { "given_name": "New", "family_name": "Entry", "dob": common::dob_aged(9) },
        "source": "hand",
        "reason": "matrix test"
    })
}

fn notice_json(f: &Fixture) -> serde_json::Value {
    let _ = f;
    serde_json::json!({
        "deletion_date": chrono::Utc::now().date_naive().to_string(),
        "ground": "9(1)(i)",
        "given_name": "Notice",
        "family_name": "Child",
        "dob": common::dob_aged(10),
    })
}

fn notice_json_value() -> cnis_core::casework::DeletionNotice {
    cnis_core::casework::DeletionNotice {
        deletion_date: chrono::Utc::now().date_naive().to_string(),
        ground: "9(1)(i)".into(),
        given_name: "Notice".into(),
        family_name: "Child".into(),
        dob: common::dob_aged(10),
        ..Default::default()
    }
}

fn provider_content() -> cnis_core::ap::ProviderContent {
    cnis_core::ap::ProviderContent {
        name: "Matrix Tuition".into(),
        addresses: vec!["1 Test Street".into()],
        ..Default::default()
    }
}

/// The Monday of this week.
fn this_monday() -> String {
    let d = chrono::Utc::now().date_naive();
    (d - chrono::Days::new(u64::from(chrono::Datelike::weekday(&d).num_days_from_monday()))).to_string()
}

const CALENDAR: &str = "kind,start,end,description\nterm,2026-09-02,2026-10-23,Autumn 1\n";

fn rows() -> Vec<Row> {
    vec![
        Row {
            method: "GET",
            path: "/health",
            call: |_, _| Call { path: "/health".into(), body: Body::None },
            expect: Expect::All(200),
        },
        Row {
            method: "GET",
            path: "/ready",
            call: |_, _| Call { path: "/ready".into(), body: Body::None },
            expect: Expect::All(200),
        },
        Row {
            method: "GET",
            path: "/api/openapi.json",
            call: |_, _| Call { path: "/api/openapi.json".into(), body: Body::None },
            expect: Expect::All(200),
        },
        Row {
            method: "POST",
            path: "/api/v1/session",
            call: |_, who| Call {
                path: "/api/v1/session".into(),
                body: Body::Json(serde_json::json!({ "email": common::email(who), "password": common::PASSWORD })),
            },
            expect: Expect::Only(PEOPLE_WITH_PASSWORDS, 200, 401),
        },
        Row {
            method: "DELETE",
            path: "/api/v1/session",
            call: |_, _| Call { path: "/api/v1/session".into(), body: Body::None },
            expect: Expect::All(204),
        },
        Row {
            method: "GET",
            path: "/api/v1/me",
            call: |_, _| Call { path: "/api/v1/me".into(), body: Body::None },
            expect: Expect::All(200),
        },
        Row {
            method: "GET",
            path: "/api/v1/dashboard",
            call: |_, _| Call { path: "/api/v1/dashboard".into(), body: Body::None },
            expect: Expect::Only(CW_ALL, 200, 403),
        },
        Row {
            method: "GET",
            path: "/api/v1/entries",
            call: |_, _| Call { path: "/api/v1/entries".into(), body: Body::None },
            expect: Expect::Only(CW_ALL, 200, 403),
        },
        Row {
            method: "POST",
            path: "/api/v1/entries",
            call: |f, _| Call { path: "/api/v1/entries".into(), body: Body::Json(entry_json(f)) },
            expect: Expect::Only(CW_ALL, 201, 403),
        },
        Row {
            method: "PUT",
            path: "/api/v1/entries/{id}",
            call: |f, _| {
                let (id, _) = f.fresh();
                let mut c = common::content("Matrix", "Changed", &common::dob_aged(11));
                c.notes = Some("changed".into());
                Call {
                    path: format!("/api/v1/entries/{id}"),
                    body: Body::Json(serde_json::json!({ "version": 1, "content": c, "reason": "matrix" })),
                }
            },
            expect: Expect::Only(CW, 200, 403),
        },
        Row {
            method: "POST",
            path: "/api/v1/entries/{id}/confirm",
            call: |f, _| {
                let (id, _) = f.fresh();
                Call {
                    path: format!("/api/v1/entries/{id}/confirm"),
                    body: Body::Json(serde_json::json!({ "version": 1, "reason": "matrix" })),
                }
            },
            expect: Expect::Only(CW, 200, 403),
        },
        Row {
            method: "POST",
            path: "/api/v1/entries/{id}/leave",
            call: |f, _| {
                let (id, _) = f.registered();
                let today = chrono::Utc::now().date_naive().to_string();
                Call {
                    path: format!("/api/v1/entries/{id}/leave"),
                    body: Body::Json(
                        serde_json::json!({ "version": 2, "why": "moved_away", "on": today, "reason": "matrix" }),
                    ),
                }
            },
            expect: Expect::Only(CW, 200, 403),
        },
        Row {
            method: "PUT",
            path: "/api/v1/entries/{id}/restricted",
            call: |f, _| {
                let (id, _) = f.fresh();
                Call {
                    path: format!("/api/v1/entries/{id}/restricted"),
                    body: Body::Json(serde_json::json!({ "content": { "sen": "ehc_plan" }, "reason": "matrix" })),
                }
            },
            expect: Expect::Only(&["team_manager"], 204, 403),
        },
        Row {
            method: "GET",
            path: "/api/v1/children/{child_id}",
            call: |f, _| Call { path: format!("/api/v1/children/{}", f.fresh().1), body: Body::None },
            expect: Expect::Only(CW, 200, 403),
        },
        Row {
            method: "POST",
            path: "/api/v1/children/{child_id}/emergency-access",
            call: |f, _| Call {
                path: format!("/api/v1/children/{}/emergency-access", f.fresh().1),
                body: Body::Json(
                    serde_json::json!({ "reason": "police say the child is at risk at an address tonight" }),
                ),
            },
            // Emergency access is to another council's child: the owner's
            // own caseworkers get "no such child on another register".
            expect: Expect::Only(&["caseworker_other", "team_manager_other"], 204, 403),
        },
        Row {
            method: "POST",
            path: "/api/v1/search",
            call: |_, _| Call {
                path: "/api/v1/search".into(),
                body: Body::Json(serde_json::json!({ "family_name": "Child" })),
            },
            expect: Expect::Only(CW_ALL, 200, 403),
        },
        Row {
            method: "POST",
            path: "/api/v1/identity/lookup",
            call: |_, _| Call {
                path: "/api/v1/identity/lookup".into(),
                body: Body::Json(
                    serde_json::json!({ "given_name": "Matrix", "family_name": "Child", "dob": common::dob_aged(11) }),
                ),
            },
            expect: Expect::Only(&["partner"], 200, 403),
        },
        Row {
            method: "POST",
            path: "/api/v1/identity/agree",
            call: |f, _| Call {
                path: "/api/v1/identity/agree".into(),
                body: Body::Json(serde_json::json!({ "reference": "REF-1", "child_id": f.fresh().1 })),
            },
            expect: Expect::Only(&["partner"], 204, 403),
        },
        Row {
            method: "GET",
            path: "/api/v1/national/counts",
            call: |_, _| Call { path: "/api/v1/national/counts".into(), body: Body::None },
            expect: Expect::Only(&["national_analyst"], 200, 403),
        },
        Row {
            method: "GET",
            path: "/api/v1/audit",
            call: |_, _| Call { path: "/api/v1/audit".into(), body: Body::None },
            expect: Expect::Only(&["auditor"], 200, 403),
        },
        Row {
            method: "GET",
            path: "/api/v1/audit/children/{child_id}",
            call: |f, _| Call { path: format!("/api/v1/audit/children/{}", f.other_child), body: Body::None },
            // A subject access request is answered by the council that
            // holds the child; an auditor never reads a child's record.
            expect: Expect::Only(&["team_manager_other"], 200, 403),
        },
        Row {
            method: "GET",
            path: "/api/v1/accounts",
            call: |_, _| Call { path: "/api/v1/accounts".into(), body: Body::None },
            expect: Expect::Only(&["council_admin"], 200, 403),
        },
        Row {
            method: "POST",
            path: "/api/v1/accounts",
            call: |_, who| Call {
                path: "/api/v1/accounts".into(),
                body: Body::Json(serde_json::json!({
                    "email": format!("new-{who}-{}@test.invalid", rand::random::<u32>()),
                    "name": "New person", "role": "caseworker", "password": "another long password"
                })),
            },
            expect: Expect::Only(&["council_admin"], 201, 403),
        },
        Row {
            method: "PATCH",
            path: "/api/v1/accounts/{id}",
            call: |f, _| {
                // The school user's account of council 202: unlocked, which changes nothing else.
                let id = f.server.service.actor_for(&common::email("school")).expect("school").user_id;
                Call { path: format!("/api/v1/accounts/{id}"), body: Body::Json(serde_json::json!({ "unlock": true })) }
            },
            expect: Expect::Only(&["council_admin"], 200, 403),
        },
        Row {
            method: "POST",
            path: "/api/v1/imports",
            call: |_, _| Call { path: "/api/v1/imports".into(), body: Body::Json(serde_json::json!({ "run": 1 })) },
            // Allowed to caseworkers, who learn the server has no tracking runs.
            expect: Expect::Only(CW_ALL, 409, 403),
        },
        // Casework.
        Row {
            method: "POST",
            path: "/api/v1/notices",
            call: |f, _| Call { path: "/api/v1/notices".into(), body: Body::Json(notice_json(f)) },
            expect: Expect::Only(&["school"], 201, 403),
        },
        Row {
            method: "GET",
            path: "/api/v1/notices",
            call: |_, _| Call { path: "/api/v1/notices".into(), body: Body::None },
            expect: Expect::Only(
                &["school", "caseworker", "team_manager", "caseworker_other", "team_manager_other"],
                200,
                403,
            ),
        },
        Row {
            method: "GET",
            path: "/api/v1/cases",
            call: |_, _| Call { path: "/api/v1/cases".into(), body: Body::None },
            expect: Expect::Only(CW_ALL, 200, 403),
        },
        Row {
            method: "GET",
            path: "/api/v1/cases/{id}",
            call: |f, _| Call { path: format!("/api/v1/cases/{}", f.case().0), body: Body::None },
            expect: Expect::Only(CW, 200, 403),
        },
        Row {
            method: "POST",
            path: "/api/v1/cases/{id}/enquiries",
            call: |f, _| {
                let (id, version) = f.case();
                Call {
                    path: format!("/api/v1/cases/{id}/enquiries"),
                    body: Body::Json(serde_json::json!({ "version": version, "enquiry": {
                        "kind": "health", "made_on": chrono::Utc::now().date_naive().to_string(), "outcome": "not known" } })),
                }
            },
            expect: Expect::Only(CW, 200, 403),
        },
        Row {
            method: "PUT",
            path: "/api/v1/cases/{id}/key-worker",
            call: |f, _| {
                let (id, version) = f.case();
                Call {
                    path: format!("/api/v1/cases/{id}/key-worker"),
                    body: Body::Json(serde_json::json!({ "version": version, "key_worker": f.owner.user_id })),
                }
            },
            expect: Expect::Only(CW, 200, 403),
        },
        Row {
            method: "POST",
            path: "/api/v1/cases/{id}/close",
            call: |f, _| {
                let (id, version) = f.case();
                Call {
                    path: format!("/api/v1/cases/{id}/close"),
                    body: Body::Json(serde_json::json!({ "version": version, "outcome": "back_in_school",
                        "note": "on roll elsewhere" })),
                }
            },
            expect: Expect::Only(CW, 200, 403),
        },
        Row {
            method: "GET",
            path: "/api/v1/calendar",
            call: |_, _| Call { path: "/api/v1/calendar".into(), body: Body::None },
            // Council 202 has term dates; 203 has none (404, as refused).
            expect: Expect::Only(&["caseworker", "team_manager", "council_admin"], 200, 403),
        },
        Row {
            method: "PUT",
            path: "/api/v1/calendar",
            call: |_, _| Call {
                path: "/api/v1/calendar".into(),
                body: Body::Json(serde_json::json!({ "csv": CALENDAR })),
            },
            expect: Expect::Only(&["team_manager", "council_admin", "team_manager_other"], 200, 403),
        },
        Row {
            method: "POST",
            path: "/api/v1/consent-requests",
            call: |_, _| Call {
                path: "/api/v1/consent-requests".into(),
                body: Body::Json(serde_json::json!({ "given_name": "Ask", "family_name": "Child",
                    "dob": common::dob_aged(11), "proposed_on": chrono::Utc::now().date_naive().to_string(),
                    "special_school": true })),
            },
            expect: Expect::Only(&["school"], 201, 403),
        },
        Row {
            method: "GET",
            path: "/api/v1/consent-requests",
            call: |_, _| Call { path: "/api/v1/consent-requests".into(), body: Body::None },
            expect: Expect::Only(CW_ALL, 200, 403),
        },
        Row {
            method: "GET",
            path: "/api/v1/school/consent-requests",
            call: |_, _| Call { path: "/api/v1/school/consent-requests".into(), body: Body::None },
            expect: Expect::Only(&["school"], 200, 403),
        },
        Row {
            method: "POST",
            path: "/api/v1/consent-requests/{id}/decision",
            call: |f, _| {
                let ask = cnis_app::service::cases::ConsentAsk {
                    given_name: "Decide".into(),
                    family_name: "Child".into(),
                    dob: common::dob_aged(11),
                    proposed_on: chrono::Utc::now().date_naive().to_string(),
                    special_school: true,
                    ..Default::default()
                };
                let id = f.server.service.ask_consent(&f.school, ask).expect("ask").id;
                Call {
                    path: format!("/api/v1/consent-requests/{id}/decision"),
                    body: Body::Json(serde_json::json!({ "consent": true, "reasons": "suitable education arranged" })),
                }
            },
            expect: Expect::Only(&["team_manager"], 200, 403),
        },
        Row {
            method: "POST",
            path: "/api/v1/children/{child_id}/care",
            call: |f, _| Call {
                path: format!("/api/v1/children/{}/care", f.fresh().1),
                body: Body::Json(serde_json::json!([{ "kind": "child_in_need", "start": "2026-01-05" }])),
            },
            expect: Expect::Only(CW, 204, 403),
        },
        Row {
            method: "GET",
            path: "/api/v1/outbox",
            call: |_, _| Call { path: "/api/v1/outbox".into(), body: Body::None },
            expect: Expect::Only(&["team_manager", "council_admin", "team_manager_other"], 200, 403),
        },
        Row {
            method: "POST",
            path: "/api/v1/absence-reports",
            call: |_, _| Call {
                path: "/api/v1/absence-reports".into(),
                body: Body::Json(serde_json::json!({ "given_name": "Absent", "family_name": "Child",
                    "dob": common::dob_aged(11),
                    "first_day_absent": (chrono::Utc::now().date_naive() - chrono::Days::new(16)).to_string() })),
            },
            expect: Expect::Only(&["school"], 201, 403),
        },
        Row {
            method: "POST",
            path: "/api/v1/notices/upload",
            call: |_, _| Call {
                path: "/api/v1/notices/upload".into(),
                body: Body::Json(serde_json::json!({ "csv": format!(
                    "deletion_date,ground,given_name,family_name,dob\n{},9(1)(a),Up,Load,{}\n",
                    chrono::Utc::now().date_naive(), common::dob_aged(9)) })),
            },
            expect: Expect::Only(&["school"], 200, 403),
        },
        Row {
            method: "GET",
            path: "/api/v1/scrutiny",
            // Council 202's schools: its own staff and an inspector.
            call: |_, _| Call { path: "/api/v1/scrutiny?council=202".into(), body: Body::None },
            expect: Expect::Only(&["caseworker", "team_manager", "inspector"], 200, 403),
        },
        Row {
            method: "POST",
            path: "/api/v1/handovers",
            call: |f, _| Call {
                path: "/api/v1/handovers".into(),
                body: Body::Json(serde_json::json!({ "child_id": f.fresh().1, "to_council": "203",
                    "reason": "family moved to the next council" })),
            },
            // Offered by the owner's council; another council does not hold the child.
            expect: Expect::Only(CW, 201, 403),
        },
        Row {
            method: "GET",
            path: "/api/v1/handovers",
            call: |_, _| Call { path: "/api/v1/handovers".into(), body: Body::None },
            expect: Expect::Only(CW_ALL, 200, 403),
        },
        Row {
            method: "POST",
            path: "/api/v1/handovers/{id}/acknowledge",
            call: |f, _| {
                let child = f.fresh().1;
                let offer = cnis_app::service::cases::OfferHandover {
                    child_id: child,
                    to_council: "203".into(),
                    reason: "family moved".into(),
                };
                let id = f.server.service.offer_handover(&f.owner, offer).expect("offer").id;
                Call { path: format!("/api/v1/handovers/{id}/acknowledge"), body: Body::None }
            },
            // Only the receiving council acknowledges.
            expect: Expect::Only(&["caseworker_other", "team_manager_other"], 200, 403),
        },
        Row {
            method: "POST",
            path: "/api/v1/cases/{id}/he-steps",
            call: |f, _| {
                let (id, version) = f.he_case();
                Call {
                    path: format!("/api/v1/cases/{id}/he-steps"),
                    body: Body::Json(serde_json::json!({ "version": version, "step": { "stage": "initial_enquiries",
                        "on": chrono::Utc::now().date_naive().to_string(), "note": "wrote to the parents" } })),
                }
            },
            expect: Expect::Only(CW, 200, 403),
        },
        Row {
            method: "POST",
            path: "/api/v1/referrals",
            call: |_, _| Call {
                path: "/api/v1/referrals".into(),
                body: Body::Json(serde_json::json!({ "source": "public", "referrer": "a neighbour",
                    "given_name": "Referred", "family_name": "Child", "dob": common::dob_aged(8),
                    "summary": "not seen at school since Easter" })),
            },
            expect: Expect::Only(CW_ALL, 201, 403),
        },
        Row {
            method: "POST",
            path: "/api/v1/cases/{id}/tasks",
            call: |f, _| Call {
                path: format!("/api/v1/cases/{}/tasks", f.case().0),
                body: Body::Json(serde_json::json!({ "title": "ring the family" })),
            },
            expect: Expect::Only(CW, 201, 403),
        },
        Row {
            method: "POST",
            path: "/api/v1/tasks/{id}/done",
            call: |f, _| Call {
                path: format!("/api/v1/tasks/{}/done", f.task()),
                body: Body::Json(serde_json::json!({ "note": "rang them" })),
            },
            expect: Expect::Only(CW, 200, 403),
        },
        Row {
            method: "GET",
            path: "/api/v1/tasks",
            call: |_, _| Call { path: "/api/v1/tasks".into(), body: Body::None },
            expect: Expect::Only(CW_ALL, 200, 403),
        },
        Row {
            method: "POST",
            path: "/api/v1/merges",
            call: |f, _| Call {
                path: "/api/v1/merges".into(),
                body: Body::Json(serde_json::json!({ "kept": f.fresh().1, "absorbed": f.fresh().1,
                    "reason": "the same pupil" })),
            },
            expect: Expect::Only(CW, 201, 403),
        },
        Row {
            method: "POST",
            path: "/api/v1/merges/{id}/undo",
            call: |f, _| {
                let id = f.merged();
                Call {
                    path: format!("/api/v1/merges/{id}/undo"),
                    body: Body::Json(serde_json::json!({ "reason": "twins" })),
                }
            },
            expect: Expect::Only(CW, 200, 403),
        },
        Row {
            method: "POST",
            path: "/api/v1/identity/not-same",
            call: |f, _| Call {
                path: "/api/v1/identity/not-same".into(),
                body: Body::Json(serde_json::json!({ "child_a": f.fresh().1, "child_b": f.fresh().1,
                    "reason": "different parents" })),
            },
            expect: Expect::Only(CW, 201, 403),
        },
        Row {
            method: "GET",
            path: "/api/v1/identity/decisions",
            call: |_, _| Call { path: "/api/v1/identity/decisions".into(), body: Body::None },
            expect: Expect::Only(CW_ALL, 200, 403),
        },
        Row {
            method: "GET",
            path: "/api/v1/identity/queue",
            call: |_, _| Call { path: "/api/v1/identity/queue".into(), body: Body::None },
            expect: Expect::Only(CW_ALL, 200, 403),
        },
        Row {
            method: "POST",
            path: "/api/v1/ap/providers",
            call: |_, _| Call {
                path: "/api/v1/ap/providers".into(),
                body: Body::Json(serde_json::json!({ "content": provider_content(), "reason": "matrix" })),
            },
            expect: Expect::Only(CW_ALL, 201, 403),
        },
        Row {
            method: "GET",
            path: "/api/v1/ap/providers",
            call: |_, _| Call { path: "/api/v1/ap/providers".into(), body: Body::None },
            expect: Expect::Only(CW_ALL, 200, 403),
        },
        Row {
            method: "GET",
            path: "/api/v1/ap/providers/{id}",
            call: |f, _| Call { path: format!("/api/v1/ap/providers/{}", f.provider()), body: Body::None },
            expect: Expect::Only(CW, 200, 403),
        },
        Row {
            method: "PUT",
            path: "/api/v1/ap/providers/{id}",
            call: |f, _| Call {
                path: format!("/api/v1/ap/providers/{}", f.provider()),
                body: Body::Json(
                    serde_json::json!({ "version": 1, "content": provider_content(), "reason": "matrix" }),
                ),
            },
            expect: Expect::Only(CW, 200, 403),
        },
        Row {
            method: "POST",
            path: "/api/v1/ap/providers/{id}/evidence",
            call: |f, _| Call {
                path: format!("/api/v1/ap/providers/{}/evidence", f.provider()),
                body: Body::Json(serde_json::json!({ "standard": "safeguarding_lead", "evidence": "certificate",
                    "checked_on": chrono::Utc::now().date_naive().to_string() })),
            },
            expect: Expect::Only(CW, 204, 403),
        },
        Row {
            method: "POST",
            path: "/api/v1/ap/providers/{id}/visits",
            call: |f, _| Call {
                path: format!("/api/v1/ap/providers/{}/visits", f.provider()),
                body: Body::Json(serde_json::json!({ "visited_on": chrono::Utc::now().date_naive().to_string(),
                    "findings": "all well" })),
            },
            expect: Expect::Only(CW, 204, 403),
        },
        Row {
            method: "POST",
            path: "/api/v1/ap/providers/{id}/placements",
            call: |f, _| Call {
                path: format!("/api/v1/ap/providers/{}/placements", f.provider()),
                body: Body::Json(serde_json::json!({ "child_id": f.fresh().1, "commissioner": "council",
                    "start_on": chrono::Utc::now().date_naive().to_string(), "hours_per_week": 10.0, "reason": "matrix" })),
            },
            expect: Expect::Only(CW, 201, 403),
        },
        Row {
            method: "POST",
            path: "/api/v1/ap/placements/{id}/attendance",
            call: |f, _| Call {
                path: format!("/api/v1/ap/placements/{}/attendance", f.placement().0),
                body: Body::Json(serde_json::json!({ "week_of": this_monday(), "attended": 3, "offered": 4 })),
            },
            expect: Expect::Only(CW, 204, 403),
        },
        Row {
            method: "POST",
            path: "/api/v1/ap/placements/{id}/end",
            call: |f, _| {
                let (id, version) = f.placement();
                Call {
                    path: format!("/api/v1/ap/placements/{id}/end"),
                    body: Body::Json(serde_json::json!({ "version": version,
                        "ended_on": chrono::Utc::now().date_naive().to_string(), "reason": "back in school" })),
                }
            },
            expect: Expect::Only(CW, 200, 403),
        },
        Row {
            method: "GET",
            path: "/api/v1/ap/alerts",
            call: |_, _| Call { path: "/api/v1/ap/alerts".into(), body: Body::None },
            expect: Expect::Only(CW_ALL, 200, 403),
        },
        // Pages.
        Row {
            method: "GET",
            path: "/",
            call: |_, _| Call { path: "/".into(), body: Body::None },
            expect: Expect::All(200),
        },
        Row {
            method: "GET",
            path: "/sign-in",
            call: |_, _| Call { path: "/sign-in".into(), body: Body::None },
            // A signed-in user is sent on to their work.
            expect: Expect::All(303),
        },
        Row {
            method: "POST",
            path: "/sign-in",
            call: |_, who| Call {
                path: "/sign-in".into(),
                body: Body::Form(vec![("email", common::email(who)), ("password", common::PASSWORD.into())]),
            },
            expect: Expect::Only(PEOPLE_WITH_PASSWORDS, 303, 401),
        },
        Row {
            method: "POST",
            path: "/sign-out",
            call: |_, _| Call { path: "/sign-out".into(), body: Body::Form(vec![]) },
            expect: Expect::All(303),
        },
        Row {
            method: "GET",
            path: "/entries",
            call: |_, _| Call { path: "/entries".into(), body: Body::None },
            expect: Expect::Only(CW_ALL, 200, 403),
        },
        Row {
            method: "GET",
            path: "/entries/new",
            call: |_, _| Call { path: "/entries/new".into(), body: Body::None },
            expect: Expect::Only(CW_ALL, 200, 403),
        },
        Row {
            method: "POST",
            path: "/entries/new",
            call: |_, _| Call {
                path: "/entries/new".into(),
                body: Body::Form(vec![
                    ("given_name", "Form".into()),
                    ("family_name", "Child".into()),
                    ("dob_day", "9".into()),
                    ("dob_month", "5".into()),
                    (
                        "dob_year",
                        (chrono::Utc::now().date_naive().format("%Y").to_string().parse::<i32>().unwrap_or(2026) - 10)
                            .to_string(),
                    ),
                    ("reason", "matrix".into()),
                ]),
            },
            expect: Expect::Only(CW_ALL, 303, 403),
        },
        Row {
            method: "GET",
            path: "/entries/{id}/edit",
            call: |f, _| Call { path: format!("/entries/{}/edit", f.fresh().0), body: Body::None },
            expect: Expect::Only(CW, 200, 403),
        },
        Row {
            method: "POST",
            path: "/entries/{id}/edit",
            call: |f, _| {
                let (id, _) = f.fresh();
                Call {
                    path: format!("/entries/{id}/edit"),
                    body: Body::Form(vec![
                        ("version", "1".into()),
                        ("given_name", "Matrix".into()),
                        ("family_name", "Edited".into()),
                        ("dob_day", "9".into()),
                        ("dob_month", "5".into()),
                        ("dob_year", common::dob_aged(11)[..4].to_string()),
                        ("reason", "matrix".into()),
                    ]),
                }
            },
            expect: Expect::Only(CW, 303, 403),
        },
        Row {
            method: "POST",
            path: "/entries/{id}/confirm",
            call: |f, _| Call {
                path: format!("/entries/{}/confirm", f.fresh().0),
                body: Body::Form(vec![("version", "1".into())]),
            },
            expect: Expect::Only(CW, 303, 403),
        },
        Row {
            method: "POST",
            path: "/entries/{id}/leave",
            call: |f, _| Call {
                path: format!("/entries/{}/leave", f.fresh().0),
                body: Body::Form(vec![
                    ("version", "1".into()),
                    ("why", "moved_away".into()),
                    ("on", chrono::Utc::now().date_naive().to_string()),
                    ("reason", "matrix".into()),
                ]),
            },
            expect: Expect::Only(CW, 303, 403),
        },
        Row {
            method: "GET",
            path: "/search",
            call: |_, _| Call { path: "/search".into(), body: Body::None },
            expect: Expect::Only(CW_ALL, 200, 403),
        },
        Row {
            method: "POST",
            path: "/search",
            call: |_, _| Call { path: "/search".into(), body: Body::Form(vec![("family_name", "Child".into())]) },
            expect: Expect::Only(CW_ALL, 200, 403),
        },
        Row {
            method: "GET",
            path: "/children/{child_id}",
            call: |f, _| Call { path: format!("/children/{}", f.fresh().1), body: Body::None },
            expect: Expect::Only(CW, 200, 403),
        },
        Row {
            method: "GET",
            path: "/children/{child_id}/emergency-access",
            call: |f, _| Call { path: format!("/children/{}/emergency-access", f.fresh().1), body: Body::None },
            expect: Expect::Only(CW_ALL, 200, 403),
        },
        Row {
            method: "POST",
            path: "/children/{child_id}/emergency-access",
            call: |f, _| Call {
                path: format!("/children/{}/emergency-access", f.fresh().1),
                body: Body::Form(vec![("reason", "police say the child is at risk at an address tonight".into())]),
            },
            // Granted to the other council (then sent to the child's page);
            // the owner's own caseworkers hold no other council's child.
            expect: Expect::Only(&["caseworker_other", "team_manager_other"], 303, 403),
        },
        Row {
            method: "GET",
            path: "/import",
            call: |_, _| Call { path: "/import".into(), body: Body::None },
            expect: Expect::Only(CW_ALL, 200, 403),
        },
        Row {
            method: "POST",
            path: "/import",
            call: |_, _| Call { path: "/import".into(), body: Body::Form(vec![("run", "1".into())]) },
            expect: Expect::Only(CW_ALL, 409, 403),
        },
        Row {
            method: "GET",
            path: "/notices",
            call: |_, _| Call { path: "/notices".into(), body: Body::None },
            expect: Expect::Only(
                &["school", "caseworker", "team_manager", "caseworker_other", "team_manager_other"],
                200,
                403,
            ),
        },
        Row {
            method: "GET",
            path: "/notices/new",
            call: |_, _| Call { path: "/notices/new".into(), body: Body::None },
            expect: Expect::Only(&["school"], 200, 403),
        },
        Row {
            method: "POST",
            path: "/notices/new",
            call: |_, _| {
                let t = chrono::Utc::now().date_naive();
                let dob = common::dob_aged(10);
                Call {
                    path: "/notices/new".into(),
                    body: Body::Form(vec![
                        ("deletion_date_day", chrono::Datelike::day(&t).to_string()),
                        ("deletion_date_month", chrono::Datelike::month(&t).to_string()),
                        ("deletion_date_year", chrono::Datelike::year(&t).to_string()),
                        ("ground", "9(1)(i)".into()),
                        ("given_name", "Form".into()),
                        ("family_name", "Notice".into()),
                        ("dob_day", dob[8..10].to_string()),
                        ("dob_month", dob[5..7].to_string()),
                        ("dob_year", dob[0..4].to_string()),
                    ]),
                }
            },
            expect: Expect::Only(&["school"], 303, 403),
        },
        Row {
            method: "GET",
            path: "/cases",
            call: |_, _| Call { path: "/cases".into(), body: Body::None },
            expect: Expect::Only(CW_ALL, 200, 403),
        },
        Row {
            method: "GET",
            path: "/cases/{id}",
            call: |f, _| Call { path: format!("/cases/{}", f.case().0), body: Body::None },
            expect: Expect::Only(CW, 200, 403),
        },
        Row {
            method: "POST",
            path: "/cases/{id}/enquiries",
            call: |f, _| {
                let (id, version) = f.case();
                Call {
                    path: format!("/cases/{id}/enquiries"),
                    body: Body::Form(vec![
                        ("version", version.to_string()),
                        ("kind", "school".into()),
                        ("made_on", chrono::Utc::now().date_naive().to_string()),
                        ("outcome", "no reply".into()),
                    ]),
                }
            },
            expect: Expect::Only(CW, 303, 403),
        },
        Row {
            method: "POST",
            path: "/cases/{id}/key-worker",
            call: |f, _| {
                let (id, version) = f.case();
                Call {
                    path: format!("/cases/{id}/key-worker"),
                    body: Body::Form(vec![("version", version.to_string())]),
                }
            },
            expect: Expect::Only(CW, 303, 403),
        },
        Row {
            method: "POST",
            path: "/cases/{id}/close",
            call: |f, _| {
                let (id, version) = f.case();
                Call {
                    path: format!("/cases/{id}/close"),
                    body: Body::Form(vec![
                        ("version", version.to_string()),
                        ("outcome", "back_in_school".into()),
                        ("note", "on roll again".into()),
                    ]),
                }
            },
            expect: Expect::Only(CW, 303, 403),
        },
        Row {
            method: "POST",
            path: "/children/{child_id}/handover",
            call: |f, _| Call {
                path: format!("/children/{}/handover", f.fresh().1),
                body: Body::Form(vec![("to_council", "203".into()), ("reason", "moved to 203".into())]),
            },
            expect: Expect::Only(CW, 303, 403),
        },
        Row {
            method: "POST",
            path: "/children/{child_id}/care",
            call: |f, _| Call {
                path: format!("/children/{}/care", f.fresh().1),
                body: Body::Form(vec![
                    ("kind", "child_protection_plan".into()),
                    ("care_start_day", "5".into()),
                    ("care_start_month", "1".into()),
                    ("care_start_year", "2026".into()),
                    ("risk_of_harm_at_home", "yes".into()),
                ]),
            },
            expect: Expect::Only(CW, 303, 403),
        },
        Row {
            method: "POST",
            path: "/handovers/{id}/acknowledge",
            call: |f, _| {
                let offer = cnis_app::service::cases::OfferHandover {
                    child_id: f.fresh().1,
                    to_council: "203".into(),
                    reason: "family moved".into(),
                };
                let id = f.server.service.offer_handover(&f.owner, offer).expect("offer").id;
                Call { path: format!("/handovers/{id}/acknowledge"), body: Body::Form(vec![]) }
            },
            expect: Expect::Only(&["caseworker_other", "team_manager_other"], 303, 403),
        },
        Row {
            method: "GET",
            path: "/accounts",
            call: |_, _| Call { path: "/accounts".into(), body: Body::None },
            expect: Expect::Only(&["council_admin"], 200, 403),
        },
        Row {
            method: "GET",
            path: "/accounts/new",
            call: |_, _| Call { path: "/accounts/new".into(), body: Body::None },
            expect: Expect::Only(&["council_admin"], 200, 403),
        },
        Row {
            method: "POST",
            path: "/accounts/new",
            call: |_, who| Call {
                path: "/accounts/new".into(),
                body: Body::Form(vec![
                    ("name", "New Colleague".into()),
                    ("email", format!("new-by-{who}@test.invalid")),
                    ("role", "caseworker".into()),
                ]),
            },
            expect: Expect::Only(&["council_admin"], 200, 403),
        },
        Row {
            method: "POST",
            path: "/accounts/{id}",
            // Unlocking council 202's caseworker changes nothing a later
            // request depends on.
            call: |f, _| Call {
                path: format!("/accounts/{}", f.owner.user_id),
                body: Body::Form(vec![("action", "unlock".into())]),
            },
            expect: Expect::Only(&["council_admin"], 303, 403),
        },
        // Nobody in the matrix acts for more than one council, nor for
        // council 330 (a shared service's switching is tested in admin.rs).
        Row {
            method: "GET",
            path: "/council",
            call: |_, _| Call { path: "/council".into(), body: Body::None },
            expect: Expect::All(403),
        },
        Row {
            method: "POST",
            path: "/council",
            call: |_, _| Call { path: "/council".into(), body: Body::Form(vec![("council", "330".into())]) },
            expect: Expect::All(403),
        },
        Row {
            method: "GET",
            path: "/audit",
            call: |_, _| Call { path: "/audit".into(), body: Body::None },
            expect: Expect::Only(&["auditor"], 200, 403),
        },
        Row {
            method: "GET",
            path: "/notices/upload",
            call: |_, _| Call { path: "/notices/upload".into(), body: Body::None },
            expect: Expect::Only(&["school"], 200, 403),
        },
        Row {
            method: "POST",
            path: "/notices/upload",
            call: |_, _| Call {
                path: "/notices/upload".into(),
                body: Body::File(
                    format!(
                        "deletion_date,ground,given_name,family_name,dob\n{},9(1)(a),Page,Upload,{}\n",
                        chrono::Utc::now().date_naive(),
                        common::dob_aged(9)
                    )
                    .into_bytes(),
                ),
            },
            expect: Expect::Only(&["school"], 200, 403),
        },
        Row {
            method: "GET",
            path: "/scrutiny",
            // A council's staff always see their own council; an inspector
            // the one chosen.
            call: |_, _| Call { path: "/scrutiny?council=202".into(), body: Body::None },
            expect: Expect::Only(
                &["caseworker", "team_manager", "caseworker_other", "team_manager_other", "inspector"],
                200,
                403,
            ),
        },
        Row {
            method: "POST",
            path: "/cases/{id}/he-steps",
            call: |f, _| {
                let (id, version) = f.he_case();
                Call {
                    path: format!("/cases/{id}/he-steps"),
                    body: Body::Form(vec![
                        ("version", version.to_string()),
                        ("stage", "home_visit_requested".into()),
                        ("on", chrono::Utc::now().date_naive().to_string()),
                    ]),
                }
            },
            expect: Expect::Only(CW, 303, 403),
        },
        Row {
            method: "POST",
            path: "/cases/{id}/tasks",
            call: |f, _| Call {
                path: format!("/cases/{}/tasks", f.case().0),
                body: Body::Form(vec![("title", "ring the family".into()), ("due_on", String::new())]),
            },
            expect: Expect::Only(CW, 303, 403),
        },
        Row {
            method: "POST",
            path: "/tasks/{id}/done",
            call: |f, _| Call {
                path: format!("/tasks/{}/done", f.task()),
                body: Body::Form(vec![("note", "rang them".into())]),
            },
            expect: Expect::Only(CW, 303, 403),
        },
        Row {
            method: "GET",
            path: "/referrals/new",
            call: |_, _| Call { path: "/referrals/new".into(), body: Body::None },
            expect: Expect::Only(CW_ALL, 200, 403),
        },
        Row {
            method: "POST",
            path: "/referrals/new",
            call: |_, _| Call {
                path: "/referrals/new".into(),
                body: Body::Form(vec![
                    ("source", "other_agency".into()),
                    ("referrer", "police".into()),
                    ("given_name", "Referred".into()),
                    ("family_name", "Child".into()),
                    ("dob", common::dob_aged(8)),
                    ("summary", "found during a welfare check".into()),
                ]),
            },
            expect: Expect::Only(CW_ALL, 303, 403),
        },
        Row {
            method: "GET",
            path: "/consent",
            call: |_, _| Call { path: "/consent".into(), body: Body::None },
            expect: Expect::Only(
                &["school", "caseworker", "team_manager", "caseworker_other", "team_manager_other"],
                200,
                403,
            ),
        },
        Row {
            method: "GET",
            path: "/consent/new",
            call: |_, _| Call { path: "/consent/new".into(), body: Body::None },
            expect: Expect::Only(&["school"], 200, 403),
        },
        Row {
            method: "POST",
            path: "/consent/new",
            call: |_, _| Call {
                path: "/consent/new".into(),
                body: Body::Form(vec![
                    ("given_name", "Ask".into()),
                    ("family_name", "Child".into()),
                    ("dob", common::dob_aged(11)),
                    ("proposed_on", chrono::Utc::now().date_naive().to_string()),
                    ("special_school", "yes".into()),
                ]),
            },
            expect: Expect::Only(&["school"], 303, 403),
        },
        Row {
            method: "POST",
            path: "/consent/{id}/decision",
            call: |f, _| {
                let ask = cnis_app::service::cases::ConsentAsk {
                    given_name: "Decide".into(),
                    family_name: "Child".into(),
                    dob: common::dob_aged(11),
                    proposed_on: chrono::Utc::now().date_naive().to_string(),
                    special_school: true,
                    ..Default::default()
                };
                let id = f.server.service.ask_consent(&f.school, ask).expect("ask").id;
                Call {
                    path: format!("/consent/{id}/decision"),
                    body: Body::Form(vec![
                        ("consent", "refused".into()),
                        ("reasons", "school is in her interests".into()),
                    ]),
                }
            },
            expect: Expect::Only(&["team_manager"], 303, 403),
        },
        Row {
            method: "GET",
            path: "/messages",
            call: |_, _| Call { path: "/messages".into(), body: Body::None },
            expect: Expect::Only(&["team_manager", "council_admin", "team_manager_other"], 200, 403),
        },
        Row {
            method: "GET",
            path: "/ap",
            call: |_, _| Call { path: "/ap".into(), body: Body::None },
            expect: Expect::Only(CW_ALL, 200, 403),
        },
        Row {
            method: "POST",
            path: "/ap",
            call: |_, _| Call {
                path: "/ap".into(),
                body: Body::Form(vec![
                    ("name", "Matrix Tuition".into()),
                    ("kind", "sole_trader".into()),
                    ("address", "1 Test Street".into()),
                    ("reason", "matrix".into()),
                ]),
            },
            expect: Expect::Only(CW_ALL, 303, 403),
        },
        Row {
            method: "GET",
            path: "/ap/{id}",
            call: |f, _| Call { path: format!("/ap/{}", f.provider()), body: Body::None },
            expect: Expect::Only(CW, 200, 403),
        },
        Row {
            method: "POST",
            path: "/ap/{id}/evidence",
            call: |f, _| Call {
                path: format!("/ap/{}/evidence", f.provider()),
                body: Body::Form(vec![
                    ("standard", "health_and_safety".into()),
                    ("evidence", "risk assessment".into()),
                    ("checked_on", chrono::Utc::now().date_naive().to_string()),
                ]),
            },
            expect: Expect::Only(CW, 303, 403),
        },
        Row {
            method: "POST",
            path: "/ap/{id}/visits",
            call: |f, _| Call {
                path: format!("/ap/{}/visits", f.provider()),
                body: Body::Form(vec![
                    ("visited_on", chrono::Utc::now().date_naive().to_string()),
                    ("findings", "all well".into()),
                ]),
            },
            expect: Expect::Only(CW, 303, 403),
        },
        Row {
            method: "POST",
            path: "/ap/{id}/placements",
            call: |f, _| Call {
                path: format!("/ap/{}/placements", f.provider()),
                body: Body::Form(vec![
                    ("child_id", f.fresh().1),
                    ("commissioner", "council".into()),
                    ("start_on", chrono::Utc::now().date_naive().to_string()),
                    ("hours_per_week", "10".into()),
                    ("reason", "matrix".into()),
                ]),
            },
            expect: Expect::Only(CW, 303, 403),
        },
        Row {
            method: "POST",
            path: "/ap/placements/{id}/attendance",
            call: |f, _| Call {
                path: format!("/ap/placements/{}/attendance", f.placement().0),
                body: Body::Form(vec![("week_of", this_monday()), ("attended", "3".into()), ("offered", "4".into())]),
            },
            expect: Expect::Only(CW, 303, 403),
        },
        Row {
            method: "POST",
            path: "/ap/placements/{id}/end",
            call: |f, _| {
                let (id, version) = f.placement();
                Call {
                    path: format!("/ap/placements/{id}/end"),
                    body: Body::Form(vec![
                        ("version", version.to_string()),
                        ("ended_on", chrono::Utc::now().date_naive().to_string()),
                        ("reason", "back in school".into()),
                    ]),
                }
            },
            expect: Expect::Only(CW, 303, 403),
        },
        Row {
            method: "GET",
            path: "/identity",
            call: |_, _| Call { path: "/identity".into(), body: Body::None },
            expect: Expect::Only(CW_ALL, 200, 403),
        },
        Row {
            method: "POST",
            path: "/identity/merge",
            call: |f, _| Call {
                path: "/identity/merge".into(),
                body: Body::Form(vec![
                    ("kept", f.fresh().1),
                    ("absorbed", f.fresh().1),
                    ("reason", "the same pupil".into()),
                ]),
            },
            expect: Expect::Only(CW, 303, 403),
        },
        Row {
            method: "POST",
            path: "/identity/not-same",
            call: |f, _| Call {
                path: "/identity/not-same".into(),
                body: Body::Form(vec![
                    ("child_a", f.fresh().1),
                    ("child_b", f.fresh().1),
                    ("reason", "different parents".into()),
                ]),
            },
            expect: Expect::Only(CW, 303, 403),
        },
        Row {
            method: "POST",
            path: "/merges/{id}/undo",
            call: |f, _| {
                let id = f.merged();
                Call { path: format!("/merges/{id}/undo"), body: Body::Form(vec![("reason", "twins".into())]) }
            },
            expect: Expect::Only(CW, 303, 403),
        },
    ]
}

/// A refusal is 403, or 404 where the thing asked for is not in the
/// caller's council (the same answer as for an id that does not exist).
fn refused(code: u16) -> bool {
    code == 403 || code == 404
}

#[test]
fn every_endpoint_has_a_row_and_every_row_an_endpoint() {
    let served: Vec<(String, String)> = cnis_server::endpoints();
    let table: Vec<(String, String)> = rows().iter().map(|r| (r.method.to_string(), r.path.to_string())).collect();
    for e in &served {
        assert!(table.contains(e), "endpoint {} {} has no row in the access matrix", e.0, e.1);
    }
    for r in &table {
        assert!(served.contains(r), "the access matrix has a row for {} {}, which the router does not serve", r.0, r.1);
    }
}

#[test]
fn each_role_gets_what_the_matrix_says_and_no_council_sees_another_s_children() {
    for server in servers() {
        let actors = add_accounts(&server.service);
        let owner = actors["caseworker"].clone();
        // A child in the other council, whose name must never reach 202.
        let (_, other_child) = draft(&server.service, &actors["caseworker_other"], "Otherside", "Secretname");
        let school = actors["school"].clone();
        server.service.set_calendar(&actors["team_manager"], None, CALENDAR).expect("term dates");
        let f = Fixture { server: &server, owner, school, other_child };
        let sessions: HashMap<&str, Session> =
            PEOPLE.iter().map(|(name, role, _)| (*name, Session::sign_in(&server, name, *role))).collect();
        let mut failures = Vec::new();
        for row in rows() {
            for (name, role, _) in PEOPLE {
                // Signing out ends the session: use a fresh one for that row.
                let fresh;
                let s = if row.path.contains("sign-out") || row.path == "/api/v1/session" && row.method == "DELETE" {
                    fresh = Session::sign_in(&server, name, *role);
                    &fresh
                } else {
                    &sessions[name]
                };
                let call = (row.call)(&f, name);
                let req = match call.body {
                    Body::None => s.request(row.method, &call.path),
                    Body::Json(j) => s.request(row.method, &call.path).json(&j),
                    Body::Form(fields) => {
                        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
                        s.form(&call.path, &fields)
                    }
                    Body::File(bytes) => s.upload(&call.path, &bytes),
                };
                let resp = req.send().expect("request");
                let code = resp.status().as_u16();
                let text = resp.text().unwrap_or_default();
                let (want, allowed) = match row.expect {
                    Expect::All(c) => (c, true),
                    Expect::Only(who, yes, no) => {
                        if who.contains(name) {
                            (yes, true)
                        } else {
                            (no, false)
                        }
                    }
                };
                let ok = if allowed {
                    code == want
                } else if want == 403 {
                    refused(code)
                } else {
                    code == want
                };
                if !ok {
                    failures.push(format!(
                        "{} {} {} as {name}: got {code}, want {want}",
                        server.backend, row.method, call.path
                    ));
                }
                // Whatever the answer, council 203's child never reaches
                // another council's user, and names never reach analysts.
                let council_202 = matches!(*name, "caseworker" | "team_manager" | "council_admin" | "school");
                if (council_202 || matches!(*name, "national_analyst" | "auditor" | "partner" | "inspector"))
                    && text.contains("Secretname")
                {
                    failures.push(format!(
                        "{} {} {} as {name}: shows another council's child",
                        server.backend, row.method, call.path
                    ));
                }
                if *role == Role::NationalAnalyst && text.contains("Matrix") && row.path.starts_with("/api/v1/national")
                {
                    failures.push(format!("{}: a national analyst saw a name", server.backend));
                }
            }
        }
        assert!(failures.is_empty(), "{} access failures:\n{}", failures.len(), failures.join("\n"));
        // Every request that touched a child was audited, and the chain holds.
        let v = server.service.verify_audit().expect("verify");
        assert_eq!(v.first_broken, None, "{}", server.backend);
    }
}

#[test]
fn a_change_with_a_session_cookie_needs_the_form_token() {
    for server in servers() {
        add_accounts(&server.service);
        let mut s = Session::sign_in(&server, "caseworker", Role::Caseworker);
        s.csrf = Some("not-the-token".into());
        let r =
            s.request("POST", "/api/v1/search").json(&serde_json::json!({ "family_name": "x" })).send().expect("send");
        assert_eq!(r.status().as_u16(), 403, "{}", server.backend);
        assert_eq!(r.headers().get("content-type").and_then(|v| v.to_str().ok()), Some("application/problem+json"));
        let page = s.form("/search", &[("family_name", "x")]).send().expect("send");
        assert_eq!(page.status().as_u16(), 403, "{}: a page form with the wrong token", server.backend);
        let anonymous = Session::anonymous(&server.base);
        let r = anonymous.request("GET", "/api/v1/me").send().expect("send");
        assert_eq!(r.status().as_u16(), 401);
        let r = anonymous.request("GET", "/entries").send().expect("send");
        assert_eq!(
            (r.status().as_u16(), r.headers().get("location").and_then(|l| l.to_str().ok())),
            (303, Some("/sign-in"))
        );
    }
}
