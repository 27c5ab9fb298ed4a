//! Consent to home education (new s.434A EA 1996) and the council's
//! messages: a school asks whether a pupil its parents would withdraw is a
//! relevant child and sees the council's answer; the council sees the
//! requests and a team manager decides, with reasons; team managers and
//! administrators read the messages waiting for the council's mail system.
//! As in [`crate::pages`]: server-rendered, a POST then a redirect, every
//! form with the session's form token.

use askama::Template;
use axum::Router;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Path, Query};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use cnis_app::service::cases::{ConsentAnswer, ConsentAsk, ConsentDecision, ConsentRequest, OutboxMessage};
use cnis_app::service::{FieldError, Permission, allows};
use serde::Deserialize;

use crate::auth::Caller;
use crate::pages::{Layout, Posted, error_page, form_errors, not_found_page, posted, render, signed_in, to_sign_in};
use crate::problem::ApiError;
use crate::state::AppState;

/// The consent and message page routes: (method, path).
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/consent"),
    ("GET", "/consent/new"),
    ("POST", "/consent/new"),
    ("POST", "/consent/{id}/decision"),
    ("GET", "/messages"),
];

/// The consent and message page routes.
pub fn routes() -> Router<AppState> {
    let mut r = Router::new();
    for (method, path) in ROUTES {
        let handler = match (*method, *path) {
            ("GET", "/consent") => get(list),
            ("GET", "/consent/new") => get(ask_page),
            ("POST", "/consent/new") => post(ask),
            ("POST", "/consent/{id}/decision") => post(decide),
            ("GET", "/messages") => get(messages),
            _ => unreachable!("page route {method} {path} has no handler"),
        };
        r = r.route(path, handler);
    }
    r
}

/// A school's answer's status in words.
pub fn answer_words(status: &str) -> &'static str {
    match status {
        "not_needed" => "Consent not needed: act on the parents' notice",
        "waiting" => "Waiting for the council's decision: do not remove the pupil",
        "given" => "Consent given",
        "refused" => "Consent refused: the pupil stays on roll",
        _ => "Unknown",
    }
}

#[derive(Template)]
#[template(path = "consent.html")]
struct ListPage {
    layout: Layout,
    school: bool,
    answers: Vec<ConsentAnswer>,
    requests: Vec<ConsentRequest>,
    decides: bool,
    csrf: String,
    banner: Option<&'static str>,
}

#[derive(Template)]
#[template(path = "consent_form.html")]
struct AskPage {
    layout: Layout,
    errors: Vec<FieldError>,
    csrf: String,
    form: AskForm,
}

#[derive(Template)]
#[template(path = "messages.html")]
struct MessagesPage {
    layout: Layout,
    messages: Vec<OutboxMessage>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Done {
    done: Option<String>,
}

async fn list(
    state: axum::extract::State<AppState>,
    caller: Result<Caller, ApiError>,
    q: Result<Query<Done>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Some(c) = signed_in(caller) else { return to_sign_in() };
    let layout = Layout::for_caller(&c, "/consent");
    let banner = match q.ok().and_then(|Query(q)| q.done).as_deref() {
        Some("asked") => Some("Your question has been sent to the council"),
        Some("decided") => Some("Decision recorded: the school and the parents are told"),
        _ => None,
    };
    let a = c.actor.clone();
    let csrf = c.csrf().unwrap_or("").to_string();
    let school = allows(a.role, Permission::SubmitNotices);
    let decides = allows(a.role, Permission::DecideConsent);
    let found = state
        .blocking(move |s| {
            if school { Ok((s.consent_answers(&a)?, Vec::new())) } else { Ok((Vec::new(), s.consent_requests(&a)?)) }
        })
        .await;
    match found {
        Ok((answers, requests)) => {
            render(&ListPage { layout, school, answers, requests, decides, csrf, banner }, StatusCode::OK)
        }
        Err(e) => error_page(layout, &e),
    }
}

#[derive(Deserialize, Default, Clone)]
#[serde(default)]
struct AskForm {
    csrf: String,
    given_name: String,
    family_name: String,
    dob: String,
    upn: String,
    proposed_on: String,
    special_school: Option<String>,
}

async fn ask_page(caller: Result<Caller, ApiError>) -> Response {
    let Some(c) = signed_in(caller) else { return to_sign_in() };
    let layout = Layout::for_caller(&c, "/consent/new");
    if !allows(c.actor.role, Permission::SubmitNotices) {
        return error_page(layout, &ApiError::new(StatusCode::FORBIDDEN, "Only a school asks about consent."));
    }
    let csrf = c.csrf().unwrap_or("").to_string();
    render(&AskPage { layout, errors: Vec::new(), csrf, form: AskForm::default() }, StatusCode::OK)
}

async fn ask(
    state: axum::extract::State<AppState>,
    caller: Result<Caller, ApiError>,
    form: Result<Form<AskForm>, FormRejection>,
) -> Response {
    let (c, form) = match posted(caller, form) {
        Ok(v) => v,
        Err(page) => return *page,
    };
    let request = ConsentAsk {
        given_name: form.given_name.clone(),
        family_name: form.family_name.clone(),
        dob: form.dob.clone(),
        upn: Some(form.upn.clone()),
        proposed_on: form.proposed_on.clone(),
        special_school: form.special_school.is_some(),
    };
    let a = c.actor.clone();
    match state.blocking(move |s| s.ask_consent(&a, request)).await {
        Ok(_) => Redirect::to("/consent?done=asked").into_response(),
        Err(e) if e.status() == StatusCode::UNPROCESSABLE_ENTITY => {
            let layout = Layout::for_caller(&c, "/consent/new");
            let csrf = c.csrf().unwrap_or("").to_string();
            render(&AskPage { layout, errors: form_errors(&e), csrf, form }, StatusCode::UNPROCESSABLE_ENTITY)
        }
        Err(e) => error_page(Layout::for_caller(&c, "/consent/new"), &e),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct DecideForm {
    csrf: String,
    consent: String,
    reasons: String,
}

async fn decide(
    state: axum::extract::State<AppState>,
    caller: Result<Caller, ApiError>,
    id: Result<Path<i64>, axum::extract::rejection::PathRejection>,
    form: Result<Form<DecideForm>, FormRejection>,
) -> Response {
    let (c, form) = match posted(caller, form) {
        Ok(v) => v,
        Err(page) => return *page,
    };
    let Ok(Path(id)) = id else { return not_found_page() };
    let consent = match form.consent.as_str() {
        "given" => true,
        "refused" => false,
        _ => {
            let e = ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "Choose whether the council consents.");
            return error_page(Layout::for_caller(&c, "/consent"), &e);
        }
    };
    let a = c.actor.clone();
    match state.blocking(move |s| s.decide_consent(&a, id, ConsentDecision { consent, reasons: form.reasons })).await {
        Ok(_) => Redirect::to("/consent?done=decided").into_response(),
        Err(e) => error_page(Layout::for_caller(&c, "/consent"), &e),
    }
}

async fn messages(state: axum::extract::State<AppState>, caller: Result<Caller, ApiError>) -> Response {
    let Some(c) = signed_in(caller) else { return to_sign_in() };
    let layout = Layout::for_caller(&c, "/messages");
    let a = c.actor.clone();
    match state.blocking(move |s| s.outbox(&a, false)).await {
        Ok(mut messages) => {
            messages.reverse();
            render(&MessagesPage { layout, messages }, StatusCode::OK)
        }
        Err(e) => error_page(layout, &e),
    }
}

/// A message's body in a line of words.
pub fn message_words(m: &OutboxMessage) -> String {
    let b = &m.body;
    let text = |k: &str| b.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string();
    match m.kind.as_str() {
        "consent.decided" => {
            let given = b.get("consent").and_then(serde_json::Value::as_bool) == Some(true);
            format!("Consent to home education {}: {}", if given { "given" } else { "refused" }, text("reasons"))
        }
        "consent.asked" => format!("School {} asks whether consent is needed", text("school")),
        "case.overdue" => "A case is past its deadline".to_string(),
        "handover.unacknowledged" => "A handover has not been acknowledged".to_string(),
        "ap.alert" => format!("Alternative provision alert: {}", text("provider_name")),
        other => other.to_string(),
    }
}

/// Who a message is for, in words.
pub fn audience_words(a: &str) -> String {
    match a {
        "parents" => "The parents".to_string(),
        "council" => "The council".to_string(),
        "team_managers" => "Team managers".to_string(),
        other => match other.strip_prefix("school:") {
            Some(s) => format!("School {s}"),
            None => other.to_string(),
        },
    }
}

crate::pages::posted_forms!(AskForm, DecideForm);
