//! Identity pages: the reviewer's queue of pairs on the council's register
//! that may be one child, each with the weight every field added or took
//! away; merging two children and undoing a merge. As in [`crate::pages`]:
//! server-rendered, a POST then a redirect, every form with the session's
//! form token.

use askama::Template;
use axum::Router;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Path, Query};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use cnis_app::service::identity::{MergeChildren, NotSameChild, ReviewPair, UndoMerge};
use serde::Deserialize;

use crate::auth::Caller;
use crate::pages::{Layout, Posted, error_page, not_found_page, posted, render, signed_in, to_sign_in};
use crate::problem::ApiError;
use crate::state::AppState;

/// The identity page routes: (method, path).
pub const ROUTES: &[(&str, &str)] =
    &[("GET", "/identity"), ("POST", "/identity/merge"), ("POST", "/identity/not-same"), ("POST", "/merges/{id}/undo")];

/// The identity page routes.
pub fn routes() -> Router<AppState> {
    let mut r = Router::new();
    for (method, path) in ROUTES {
        let handler = match (*method, *path) {
            ("GET", "/identity") => get(queue),
            ("POST", "/identity/merge") => post(merge),
            ("POST", "/identity/not-same") => post(not_same),
            ("POST", "/merges/{id}/undo") => post(undo),
            _ => unreachable!("page route {method} {path} has no handler"),
        };
        r = r.route(path, handler);
    }
    r
}

#[derive(Template)]
#[template(path = "identity.html")]
struct QueuePage {
    layout: Layout,
    pairs: Vec<ReviewPair>,
    csrf: String,
    banner: Option<&'static str>,
}

/// A weight as "+12.3" or "−4.0", for the waterfall.
pub fn signed(w: &f64) -> String {
    if *w >= 0.0 { format!("+{w:.1}") } else { format!("\u{2212}{:.1}", -w) }
}

/// A probability as a percentage.
pub fn percent(p: &f64) -> String {
    format!("{:.1}%", p * 100.0)
}

/// A field's name in words.
pub fn field_label(f: &str) -> &str {
    match f {
        "upn" => "UPN",
        "nhs_number" => "NHS number",
        "case_id" => "Case id",
        "forename" => "Given name",
        "middle_names" => "Middle names",
        "surname" => "Family name",
        "dob" => "Date of birth",
        "sex" => "Sex",
        "place" => "Address and postcode",
        other => other,
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct QueueQuery {
    done: Option<String>,
}

async fn queue(
    state: axum::extract::State<AppState>,
    caller: Result<Caller, ApiError>,
    q: Result<Query<QueueQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Some(c) = signed_in(caller) else { return to_sign_in() };
    let layout = Layout::for_caller(&c, "/identity");
    let banner = match q.ok().and_then(|Query(q)| q.done).as_deref() {
        Some("decided") => Some("Recorded: not the same child. The pair will not be offered again."),
        _ => None,
    };
    let a = c.actor.clone();
    let csrf = c.csrf().unwrap_or("").to_string();
    match state.blocking(move |s| s.identity_queue(&a, 50)).await {
        Ok(pairs) => render(&QueuePage { layout, pairs, csrf, banner }, StatusCode::OK),
        Err(e) => error_page(layout, &e),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct MergeForm {
    csrf: String,
    kept: String,
    absorbed: String,
    reason: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct NotSameForm {
    csrf: String,
    child_a: String,
    child_b: String,
    reason: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct UndoForm {
    csrf: String,
    reason: String,
}

async fn merge(
    state: axum::extract::State<AppState>,
    caller: Result<Caller, ApiError>,
    form: Result<Form<MergeForm>, FormRejection>,
) -> Response {
    let (c, form) = match posted(caller, form) {
        Ok(v) => v,
        Err(page) => return *page,
    };
    let a = c.actor.clone();
    let m = MergeChildren { kept: form.kept.trim().into(), absorbed: form.absorbed.trim().into(), reason: form.reason };
    match state.blocking(move |s| s.merge_children(&a, m)).await {
        Ok(m) => Redirect::to(&format!("/children/{}?done=merged", m.kept)).into_response(),
        Err(e) => error_page(Layout::for_caller(&c, ""), &e),
    }
}

async fn not_same(
    state: axum::extract::State<AppState>,
    caller: Result<Caller, ApiError>,
    form: Result<Form<NotSameForm>, FormRejection>,
) -> Response {
    let (c, form) = match posted(caller, form) {
        Ok(v) => v,
        Err(page) => return *page,
    };
    let a = c.actor.clone();
    let d = NotSameChild { child_a: form.child_a, child_b: form.child_b, reason: form.reason };
    match state.blocking(move |s| s.not_same_child(&a, d)).await {
        Ok(_) => Redirect::to("/identity?done=decided").into_response(),
        Err(e) => error_page(Layout::for_caller(&c, ""), &e),
    }
}

async fn undo(
    state: axum::extract::State<AppState>,
    caller: Result<Caller, ApiError>,
    id: Result<Path<i64>, axum::extract::rejection::PathRejection>,
    form: Result<Form<UndoForm>, FormRejection>,
) -> Response {
    let (c, form) = match posted(caller, form) {
        Ok(v) => v,
        Err(page) => return *page,
    };
    let Ok(Path(id)) = id else { return not_found_page() };
    let a = c.actor.clone();
    match state.blocking(move |s| s.undo_merge(&a, id, UndoMerge { reason: form.reason })).await {
        Ok(m) => Redirect::to(&format!("/children/{}?done=unmerged", m.kept)).into_response(),
        Err(e) => error_page(Layout::for_caller(&c, ""), &e),
    }
}

crate::pages::posted_forms!(MergeForm, NotSameForm, UndoForm);
