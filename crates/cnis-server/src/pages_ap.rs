//! Pages for the register of unregistered alternative provision: the
//! council's providers with their alerts, and a provider's page with its
//! standards checklist, visits and placements. As in [`crate::pages`]:
//! server-rendered, a POST then a redirect, every form with the session's
//! form token.

use askama::Template;
use axum::Router;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Path, Query};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use cnis_app::service::ap::{
    EndPlacement, NewAttendance, NewEvidence, NewProvider, NewVisit, PlaceChild, ProviderSummary, ProviderView,
};
use cnis_core::ap::{Alert, Commissioner, Contact, ProviderContent, ProviderKind};
use serde::Deserialize;

use crate::auth::Caller;
use crate::pages::{Layout, Posted, error_page, not_found_page, posted, render, signed_in, to_sign_in};
use crate::problem::ApiError;
use crate::state::AppState;

/// The alternative provision page routes: (method, path).
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/ap"),
    ("POST", "/ap"),
    ("GET", "/ap/{id}"),
    ("POST", "/ap/{id}/evidence"),
    ("POST", "/ap/{id}/visits"),
    ("POST", "/ap/{id}/placements"),
    ("POST", "/ap/placements/{id}/attendance"),
    ("POST", "/ap/placements/{id}/end"),
];

/// The alternative provision page routes.
pub fn routes() -> Router<AppState> {
    let mut r = Router::new();
    for (method, path) in ROUTES {
        let handler = match (*method, *path) {
            ("GET", "/ap") => get(list),
            ("POST", "/ap") => post(add),
            ("GET", "/ap/{id}") => get(provider),
            ("POST", "/ap/{id}/evidence") => post(evidence),
            ("POST", "/ap/{id}/visits") => post(visit),
            ("POST", "/ap/{id}/placements") => post(place),
            ("POST", "/ap/placements/{id}/attendance") => post(attendance),
            ("POST", "/ap/placements/{id}/end") => post(end),
            _ => unreachable!("page route {method} {path} has no handler"),
        };
        r = r.route(path, handler);
    }
    r
}

/// An alert in words.
pub fn alert_words(a: &Alert) -> String {
    match a {
        Alert::StandardMissing { standard } => {
            format!("No evidence for: {}", cnis_core::ap::standard_label(standard))
        }
        Alert::StandardLapsed { standard, expired_on } => {
            format!("Lapsed on {}: {}", expired_on.format("%-d %B %Y"), cnis_core::ap::standard_label(standard))
        }
        Alert::NoAttendance { placement, days } => {
            format!("Placement {placement}: no attendance recorded for {days} days")
        }
        Alert::PastPlannedEnd { placement, planned_end_on } => {
            format!("Placement {placement}: past its planned end on {}", planned_end_on.format("%-d %B %Y"))
        }
    }
}

#[derive(Template)]
#[template(path = "ap_list.html")]
struct ListPage {
    layout: Layout,
    providers: Vec<ProviderSummary>,
    kinds: Vec<(&'static str, &'static str)>,
    csrf: String,
}

#[derive(Template)]
#[template(path = "ap_provider.html")]
struct ProviderPage {
    layout: Layout,
    view: ProviderView,
    csrf: String,
    banner: Option<&'static str>,
    today: String,
    this_monday: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Done {
    done: Option<String>,
}

async fn list(state: axum::extract::State<AppState>, caller: Result<Caller, ApiError>) -> Response {
    let Some(c) = signed_in(caller) else { return to_sign_in() };
    let layout = Layout::for_caller(&c, "/ap");
    let a = c.actor.clone();
    let csrf = c.csrf().unwrap_or("").to_string();
    let kinds = ProviderKind::ALL.iter().map(|k| (k.code(), k.label())).collect();
    match state.blocking(move |s| s.providers(&a)).await {
        Ok(providers) => render(&ListPage { layout, providers, kinds, csrf }, StatusCode::OK),
        Err(e) => error_page(layout, &e),
    }
}

async fn provider(
    state: axum::extract::State<AppState>,
    caller: Result<Caller, ApiError>,
    id: Result<Path<i64>, axum::extract::rejection::PathRejection>,
    q: Result<Query<Done>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Some(c) = signed_in(caller) else { return to_sign_in() };
    let layout = Layout::for_caller(&c, "/ap");
    let Ok(Path(id)) = id else { return not_found_page() };
    let banner = match q.ok().and_then(|Query(q)| q.done).as_deref() {
        Some("added") => Some("Provider added"),
        Some("evidence") => Some("Evidence recorded"),
        Some("visit") => Some("Visit recorded"),
        Some("placed") => Some("Placement recorded"),
        Some("attendance") => Some("Attendance recorded"),
        Some("ended") => Some("Placement ended"),
        _ => None,
    };
    let a = c.actor.clone();
    let csrf = c.csrf().unwrap_or("").to_string();
    let today = chrono::Utc::now().date_naive();
    let monday = today - chrono::Days::new(u64::from(chrono::Datelike::weekday(&today).num_days_from_monday()));
    match state.blocking(move |s| s.provider(&a, id)).await {
        Ok(view) => render(
            &ProviderPage { layout, view, csrf, banner, today: today.to_string(), this_monday: monday.to_string() },
            StatusCode::OK,
        ),
        Err(e) => error_page(layout, &e),
    }
}

macro_rules! form {
    ($name:ident { $($f:ident: $t:ty),* $(,)? }) => {
        #[derive(Deserialize, Default)]
        #[serde(default)]
        struct $name {
            csrf: String,
            $($f: $t,)*
        }
        crate::pages::posted_forms!($name);
    };
}

form!(AddForm {
    name: String,
    kind: String,
    ukprn: String,
    address: String,
    web_address: String,
    contact: String,
    reason: String
});
form!(EvidenceForm { standard: String, evidence: String, checked_on: String, expires_on: String });
form!(VisitForm { visited_on: String, findings: String, action: String });
form!(PlaceForm {
    child_id: String,
    commissioner: String,
    school: String,
    start_on: String,
    planned_end_on: String,
    hours_per_week: String,
    reason: String,
});
form!(AttendanceForm { week_of: String, attended: String, offered: String });
form!(EndForm { version: i64, ended_on: String, reason: String });

fn some(s: String) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_string())
}

async fn add(
    state: axum::extract::State<AppState>,
    caller: Result<Caller, ApiError>,
    form: Result<Form<AddForm>, FormRejection>,
) -> Response {
    let (c, f) = match posted(caller, form) {
        Ok(v) => v,
        Err(page) => return *page,
    };
    let content = ProviderContent {
        name: f.name,
        kind: ProviderKind::parse(&f.kind).unwrap_or_default(),
        ukprn: some(f.ukprn),
        addresses: some(f.address).into_iter().collect(),
        web_address: some(f.web_address),
        contacts: some(f.contact).map(|name| Contact { name, ..Contact::default() }).into_iter().collect(),
    };
    let a = c.actor.clone();
    match state.blocking(move |s| s.add_provider(&a, NewProvider { content, reason: f.reason })).await {
        Ok(p) => Redirect::to(&format!("/ap/{}?done=added", p.id)).into_response(),
        Err(e) => error_page(Layout::for_caller(&c, "/ap"), &e),
    }
}

type PathId = Result<Path<i64>, axum::extract::rejection::PathRejection>;

async fn evidence(
    state: axum::extract::State<AppState>,
    caller: Result<Caller, ApiError>,
    id: PathId,
    form: Result<Form<EvidenceForm>, FormRejection>,
) -> Response {
    let (c, f) = match posted(caller, form) {
        Ok(v) => v,
        Err(page) => return *page,
    };
    let Ok(Path(id)) = id else { return not_found_page() };
    let e = NewEvidence {
        standard: f.standard,
        evidence: f.evidence,
        checked_on: f.checked_on,
        expires_on: some(f.expires_on),
    };
    let a = c.actor.clone();
    match state.blocking(move |s| s.record_evidence(&a, id, e)).await {
        Ok(()) => Redirect::to(&format!("/ap/{id}?done=evidence")).into_response(),
        Err(e) => error_page(Layout::for_caller(&c, "/ap"), &e),
    }
}

async fn visit(
    state: axum::extract::State<AppState>,
    caller: Result<Caller, ApiError>,
    id: PathId,
    form: Result<Form<VisitForm>, FormRejection>,
) -> Response {
    let (c, f) = match posted(caller, form) {
        Ok(v) => v,
        Err(page) => return *page,
    };
    let Ok(Path(id)) = id else { return not_found_page() };
    let v = NewVisit { visited_on: f.visited_on, findings: f.findings, actions: some(f.action).into_iter().collect() };
    let a = c.actor.clone();
    match state.blocking(move |s| s.record_visit(&a, id, v)).await {
        Ok(()) => Redirect::to(&format!("/ap/{id}?done=visit")).into_response(),
        Err(e) => error_page(Layout::for_caller(&c, "/ap"), &e),
    }
}

async fn place(
    state: axum::extract::State<AppState>,
    caller: Result<Caller, ApiError>,
    id: PathId,
    form: Result<Form<PlaceForm>, FormRejection>,
) -> Response {
    let (c, f) = match posted(caller, form) {
        Ok(v) => v,
        Err(page) => return *page,
    };
    let Ok(Path(id)) = id else { return not_found_page() };
    let p = PlaceChild {
        child_id: f.child_id,
        commissioner: Commissioner::parse(&f.commissioner).unwrap_or(Commissioner::Council),
        school: some(f.school),
        start_on: f.start_on,
        planned_end_on: some(f.planned_end_on),
        // Not a number: refused by the rule on hours, which names the field.
        hours_per_week: f.hours_per_week.trim().parse().unwrap_or(f64::NAN),
        reason: f.reason,
    };
    let a = c.actor.clone();
    match state.blocking(move |s| s.place_child(&a, id, p)).await {
        Ok(_) => Redirect::to(&format!("/ap/{id}?done=placed")).into_response(),
        Err(e) => error_page(Layout::for_caller(&c, "/ap"), &e),
    }
}

async fn attendance(
    state: axum::extract::State<AppState>,
    caller: Result<Caller, ApiError>,
    id: PathId,
    form: Result<Form<AttendanceForm>, FormRejection>,
) -> Response {
    let (c, f) = match posted(caller, form) {
        Ok(v) => v,
        Err(page) => return *page,
    };
    let Ok(Path(id)) = id else { return not_found_page() };
    let n = |s: &str| s.trim().parse::<i64>().unwrap_or(-1);
    let at = NewAttendance { week_of: f.week_of, attended: n(&f.attended), offered: n(&f.offered) };
    let a = c.actor.clone();
    match state.blocking(move |s| s.record_attendance(&a, id, at)).await {
        Ok(p) => Redirect::to(&format!("/ap/{}?done=attendance", p.provider_id)).into_response(),
        Err(e) => error_page(Layout::for_caller(&c, "/ap"), &e),
    }
}

async fn end(
    state: axum::extract::State<AppState>,
    caller: Result<Caller, ApiError>,
    id: PathId,
    form: Result<Form<EndForm>, FormRejection>,
) -> Response {
    let (c, f) = match posted(caller, form) {
        Ok(v) => v,
        Err(page) => return *page,
    };
    let Ok(Path(id)) = id else { return not_found_page() };
    let e = EndPlacement { version: f.version, ended_on: f.ended_on, reason: f.reason };
    let a = c.actor.clone();
    match state.blocking(move |s| s.end_placement(&a, id, e)).await {
        Ok(p) => Redirect::to(&format!("/ap/{}?done=ended", p.provider_id)).into_response(),
        Err(e) => error_page(Layout::for_caller(&c, "/ap"), &e),
    }
}
