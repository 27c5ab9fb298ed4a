//! The caseworkers' pages, in the GOV.UK Design System with the MOJ
//! caseworking components, rendered on the server by askama (escaped by
//! default). Every form works without JavaScript: a POST, then a redirect,
//! then a GET. Every form carries the session's form token. Searches are
//! sent by POST, so names never sit in a URL or a log; a child is named in
//! a URL only by child id.

use askama::Template;
use axum::Router;
use axum::extract::rejection::FormRejection;
use axum::extract::{ConnectInfo, Form, Path, Query};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use cnis_app::service::entries::{ChildView, Dashboard, EntryView, ImportReport, Page};
use cnis_app::service::{FieldError, HistoryRow, Permission, SearchHit, SearchRequest, ServiceError, allows};
use cnis_core::casework::CareKind;
use cnis_core::register::{EntryContent, EntryStatus, LeaveReason, Parent};
use serde::Deserialize;

use crate::api::{cleared_cookie, client_ip, session_cookie};
use crate::auth::{Caller, Via};
use crate::problem::ApiError;
use crate::state::AppState;

/// Every page route: (method, path). The router is built from this table,
/// so it is the complete list (the access test reads it).
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/"),
    ("GET", "/sign-in"),
    ("POST", "/sign-in"),
    ("POST", "/sign-out"),
    ("GET", "/entries"),
    ("GET", "/entries/{id}/edit"),
    ("POST", "/entries/{id}/edit"),
    ("POST", "/entries/{id}/confirm"),
    ("POST", "/entries/{id}/leave"),
    ("GET", "/search"),
    ("POST", "/search"),
    ("GET", "/children/{child_id}"),
    ("GET", "/children/{child_id}/emergency-access"),
    ("POST", "/children/{child_id}/emergency-access"),
    ("GET", "/import"),
    ("POST", "/import"),
];

/// The page routes.
pub fn routes() -> Router<AppState> {
    let mut r = Router::new();
    for (method, path) in ROUTES {
        let handler = match (*method, *path) {
            ("GET", "/") => get(home),
            ("GET", "/sign-in") => get(sign_in_page),
            ("POST", "/sign-in") => post(sign_in),
            ("POST", "/sign-out") => post(sign_out),
            ("GET", "/entries") => get(entries),
            ("GET", "/entries/{id}/edit") => get(edit_entry_page),
            ("POST", "/entries/{id}/edit") => post(edit_entry),
            ("POST", "/entries/{id}/confirm") => post(confirm_entry),
            ("POST", "/entries/{id}/leave") => post(leave_entry),
            ("GET", "/search") => get(search_page),
            ("POST", "/search") => post(search),
            ("GET", "/children/{child_id}") => get(child),
            ("GET", "/children/{child_id}/emergency-access") => get(emergency_page),
            ("POST", "/children/{child_id}/emergency-access") => post(emergency),
            ("GET", "/import") => get(import_page),
            ("POST", "/import") => post(import),
            // A row of the table with no handler is a bug caught by every
            // test that starts the server.
            _ => unreachable!("page route {method} {path} has no handler"),
        };
        r = r.route(path, handler);
    }
    r
}

/// One item of the service navigation.
pub struct NavItem {
    pub(crate) href: &'static str,
    pub(crate) label: &'static str,
    pub(crate) current: bool,
}

/// Who is signed in, for the header.
pub struct UserBar {
    pub(crate) name: String,
    pub(crate) role: &'static str,
    pub(crate) council: Option<String>,
    pub(crate) csrf: String,
    /// Whether the account acts for more than one council.
    pub(crate) switchable: bool,
}

/// What every page's layout needs.
pub struct Layout {
    pub(crate) assets: &'static str,
    pub(crate) user: Option<UserBar>,
    pub(crate) nav: Vec<NavItem>,
}

impl Layout {
    pub(crate) fn anonymous() -> Layout {
        Layout { assets: crate::assets::version(), user: None, nav: Vec::new() }
    }

    pub(crate) fn for_caller(c: &Caller, current: &str) -> Layout {
        let a = &c.actor;
        let mut nav = vec![NavItem { href: "/", label: "Your work", current: current == "/" }];
        if allows(a.role, Permission::WorkCases) {
            nav.push(NavItem { href: "/cases", label: "Cases", current: current == "/cases" });
        }
        if allows(a.role, Permission::ReadScrutiny) {
            nav.push(NavItem { href: "/scrutiny", label: "Deletions by school", current: current == "/scrutiny" });
        }
        if allows(a.role, Permission::SubmitNotices) {
            nav.push(NavItem { href: "/notices", label: "Deletion notices", current: current == "/notices" });
            nav.push(NavItem {
                href: "/notices/new",
                label: "Tell us about a deletion",
                current: current == "/notices/new",
            });
            nav.push(NavItem {
                href: "/notices/upload",
                label: "Send notices as a file",
                current: current == "/notices/upload",
            });
        }
        if allows(a.role, Permission::SubmitNotices) || allows(a.role, Permission::WorkCases) {
            nav.push(NavItem { href: "/consent", label: "Consent to home education", current: current == "/consent" });
        }
        if allows(a.role, Permission::ManageCalendar) {
            nav.push(NavItem { href: "/messages", label: "Messages", current: current == "/messages" });
        }
        if allows(a.role, Permission::Search) {
            nav.push(NavItem { href: "/search", label: "Find a child", current: current == "/search" });
            nav.push(NavItem { href: "/entries", label: "Register", current: current == "/entries" });
            nav.push(NavItem { href: "/entries/new", label: "Add a child", current: current == "/entries/new" });
        }
        if allows(a.role, Permission::ManageAp) {
            nav.push(NavItem { href: "/ap", label: "Alternative provision", current: current == "/ap" });
        }
        if allows(a.role, Permission::ReviewIdentity) {
            nav.push(NavItem { href: "/identity", label: "Possible duplicates", current: current == "/identity" });
        }
        if allows(a.role, Permission::ManageAccounts) {
            nav.push(NavItem { href: "/accounts", label: "Accounts", current: current == "/accounts" });
        }
        if allows(a.role, Permission::ReadAudit) {
            nav.push(NavItem { href: "/audit", label: "Audit", current: current == "/audit" });
        }
        Layout {
            assets: crate::assets::version(),
            user: Some(UserBar {
                name: a.name.clone(),
                role: a.role.label(),
                council: a.council.map(|c| c.info().name.clone()),
                csrf: c.csrf().unwrap_or("").to_string(),
                switchable: a.councils.len() > 1 && c.csrf().is_some(),
            }),
            nav,
        }
    }
}

/// A text field of a form.
pub struct Field {
    pub(crate) name: &'static str,
    pub(crate) label: &'static str,
    pub(crate) hint: Option<&'static str>,
    pub(crate) value: String,
    pub(crate) error: Option<String>,
}

pub(crate) fn field(
    name: &'static str,
    label: &'static str,
    hint: Option<&'static str>,
    value: &str,
    errors: &[FieldError],
) -> Field {
    Field { name, label, hint, value: value.to_string(), error: error_for(name, errors) }
}

fn error_for(name: &str, errors: &[FieldError]) -> Option<String> {
    errors.iter().find(|e| form_field(&e.field) == name).map(|e| e.message.clone())
}

/// The form's field for an API field name (errors link to it).
fn form_field(api: &str) -> &str {
    match api {
        "parents[0].name" => "parent_name",
        f if f.starts_with("parents") => "parent_name",
        f => f,
    }
}

#[derive(Template)]
#[template(path = "sign_in.html")]
struct SignInPage {
    layout: Layout,
    errors: Vec<FieldError>,
    message: Option<String>,
    email: String,
    has_error: bool,
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    layout: Layout,
    dashboard: Option<Dashboard>,
    /// The user's open tasks, soonest first.
    tasks: Vec<cnis_app::service::cases::Task>,
    today: chrono::NaiveDate,
    recent_days: u64,
    role_label: &'static str,
    auditor: bool,
    school: bool,
    inspector: bool,
    council_admin: bool,
}

#[derive(Template)]
#[template(path = "entries.html")]
struct EntriesPage {
    layout: Layout,
    heading: String,
    page: Page<EntryView>,
    pages: i64,
    status_query: String,
    banner: Option<String>,
}

#[derive(Template)]
#[template(path = "search.html")]
struct SearchPage {
    layout: Layout,
    errors: Vec<FieldError>,
    csrf: String,
    fields: Vec<Field>,
    searched: bool,
    results: Vec<SearchHit>,
}

#[derive(Template)]
#[template(path = "child.html")]
struct ChildPage {
    layout: Layout,
    view: ChildView,
    flags: Vec<&'static str>,
    mine: bool,
    csrf: String,
    banner: Option<String>,
    /// Reasons a child leaves the register (code, words).
    leave_reasons: Vec<(&'static str, &'static str)>,
    today: String,
    /// Kinds of social-care involvement (code, words).
    care_kinds: Vec<(&'static str, &'static str)>,
    care_start: crate::pages_cases::DateField,
    care_end: crate::pages_cases::DateField,
    today_date: chrono::NaiveDate,
}

#[derive(Template)]
#[template(path = "entry_form.html")]
struct EntryFormPage {
    layout: Layout,
    errors: Vec<FieldError>,
    heading: &'static str,
    action: String,
    csrf: String,
    version: i64,
    child_fields: Vec<Field>,
    dob: crate::pages_cases::DateField,
    home_fields: Vec<Field>,
    parent_fields: Vec<Field>,
    parent_educates: bool,
    council_fields: Vec<Field>,
    reason_field: Field,
    button: &'static str,
}

#[derive(Template)]
#[template(path = "import.html")]
struct ImportPage {
    layout: Layout,
    errors: Vec<FieldError>,
    csrf: String,
    run_field: Field,
    report: Option<ImportReport>,
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    layout: Layout,
    heading: String,
    detail: String,
    /// A child refused: the link to ask for emergency access.
    emergency_for: Option<String>,
}

#[derive(Template)]
#[template(path = "emergency.html")]
struct EmergencyPage {
    layout: Layout,
    errors: Vec<FieldError>,
    csrf: String,
    child_id: String,
    reason: Field,
}

pub(crate) fn render(t: &impl Template, status: StatusCode) -> Response {
    match t.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "a page did not render");
            (StatusCode::INTERNAL_SERVER_ERROR, "The page could not be shown.").into_response()
        }
    }
}

/// The page for an error, with the words the API would give.
pub(crate) fn error_page(layout: Layout, e: &ApiError) -> Response {
    let heading = match e.status() {
        StatusCode::FORBIDDEN => "You cannot see this",
        StatusCode::NOT_FOUND => "Page not found",
        StatusCode::CONFLICT => "The record has changed",
        StatusCode::SERVICE_UNAVAILABLE => "Sorry, the service is unavailable",
        s if s.is_server_error() => "Sorry, there is a problem with the service",
        _ => "There is a problem",
    };
    // A form's field problems are said in full, not counted.
    let detail = if e.errors().is_empty() {
        e.detail().to_string()
    } else {
        let said: Vec<&str> = e.errors().iter().map(|f| f.message.trim_end_matches('.')).collect();
        format!("{}. Go back and try again.", said.join(". "))
    };
    render(&ErrorPage { layout, heading: heading.into(), detail, emergency_for: None }, e.status())
}

/// The page for an unknown address.
pub fn not_found_page() -> Response {
    error_page(
        Layout::anonymous(),
        &ApiError::new(StatusCode::NOT_FOUND, "If you typed the web address, check it is correct."),
    )
}

/// A signed-in caller, or the sign-in page.
pub(crate) fn signed_in(c: Result<Caller, ApiError>) -> Option<Caller> {
    c.ok()
}

pub(crate) fn to_sign_in() -> Response {
    Redirect::to("/sign-in").into_response()
}

/// A form that carries the session's form token.
pub(crate) trait Posted {
    fn csrf(&self) -> &str;
}

macro_rules! posted_forms {
    ($($t:ty),*) => { $(impl Posted for $t { fn csrf(&self) -> &str { &self.csrf } })* };
}

pub(crate) use posted_forms;

posted_forms!(CsrfForm, SearchForm, EntryForm, ConfirmForm, ImportForm, EmergencyForm, LeaveForm);

/// The signed-in caller and the form they posted, its token checked; or
/// the page to answer with instead (sign in, a bad form, a stale token).
pub(crate) fn posted<T: Posted>(
    caller: Result<Caller, ApiError>,
    form: Result<Form<T>, FormRejection>,
) -> Result<(Caller, T), Box<Response>> {
    let Some(c) = signed_in(caller) else { return Err(Box::new(to_sign_in())) };
    let Ok(Form(form)) = form else { return Err(Box::new(bad_form())) };
    if let Err(e) = c.check_form(form.csrf()) {
        return Err(Box::new(error_page(Layout::for_caller(&c, ""), &e)));
    }
    Ok((c, form))
}

fn bad_form() -> Response {
    error_page(Layout::anonymous(), &ApiError::bad_request("The form could not be read. Go back and try again."))
}

/// A time (ms) as "20 January 2023 at 2:05pm".
pub fn when(ms: &i64) -> String {
    chrono::DateTime::from_timestamp_millis(*ms)
        .map(|t| t.format("%-d %B %Y at %-I:%M%P").to_string())
        .unwrap_or_default()
}

/// A `YYYY-MM-DD` date as "20 January 2023".
pub fn date(s: &str) -> String {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map(|d| d.format("%-d %B %Y").to_string())
        .unwrap_or_else(|_| s.to_string())
}

/// The tag colour for a status.
pub fn status_class(s: &EntryStatus) -> &'static str {
    match s {
        EntryStatus::Draft => "govuk-tag--yellow",
        EntryStatus::Registered => "govuk-tag--blue",
        EntryStatus::Left => "govuk-tag--grey",
        EntryStatus::Merged => "govuk-tag--purple",
    }
}

/// The tag colour for an eligibility condition.
pub fn met_class(m: &Option<bool>) -> &'static str {
    match m {
        Some(true) => "govuk-tag--green",
        Some(false) => "govuk-tag--red",
        None => "govuk-tag--grey",
    }
}

/// The words for an eligibility condition.
pub fn met_label(m: &Option<bool>) -> &'static str {
    match m {
        Some(true) => "Met",
        Some(false) => "Not met",
        None => "Not known",
    }
}

/// Why a search result matched, in words.
pub fn agreement(field: &str, level: &str) -> String {
    let name = match field {
        "forename" => "Given name",
        "surname" => "Family name",
        "middle_names" => "Middle name",
        "dob" => "Date of birth",
        "place" => "Home",
        "upn" => "UPN",
        "nhs_number" => "NHS number",
        "sex" => "Sex",
        other => other,
    };
    let how = match level {
        "exact" | "same" => "matches".to_string(),
        l if l.starts_with("same ") => "matches".to_string(),
        l if l.starts_with("Jaro") => "similar".to_string(),
        l => l.to_string(),
    };
    format!("{name} {how}")
}

/// An audit or history action in words.
pub fn action_label(a: &str) -> &str {
    match a {
        "created" | "entry.create" => "Entry created",
        "confirmed" | "entry.confirm" => "Confirmed on the register",
        "edited" | "entry.update" => "Entry changed",
        "left the register" | "entry.leave" => "Left the register",
        "restricted content changed" | "entry.restricted.update" => "Optional content changed",
        "child.read" => "Viewed the record",
        "child.read.emergency" => "Viewed under emergency access",
        "entry.read" => "Opened the entry to edit",
        "entries.list" => "Listed on the register page",
        "search" => "Shown in a search",
        "identity.lookup" => "Identity lookup by a partner",
        "identity.agree" => "Identity agreed by a partner",
        "emergency_access.grant" => "Emergency access granted",
        "child.merge" => "Merged with another child",
        "child.unmerge" => "Merge undone",
        "identity.queue" => "Shown in the possible duplicates",
        "identity.not_same" => "Decided not the same child as another",
        other => other,
    }
}

/// The fields a history row changed, in words.
pub fn changes(r: &HistoryRow) -> Vec<String> {
    let parse = |s: &Option<String>| s.as_deref().and_then(|t| serde_json::from_str::<serde_json::Value>(t).ok());
    let (Some(before), Some(after)) = (parse(&r.before), parse(&r.after)) else { return Vec::new() };
    let mut out = Vec::new();
    let (b, a) = (before.get("content").unwrap_or(&before), after.get("content").unwrap_or(&after));
    if let (Some(bo), Some(ao)) = (b.as_object(), a.as_object()) {
        for (k, av) in ao {
            if bo.get(k) != Some(av) {
                out.push(format!("{} changed", k.replace('_', " ")));
            }
        }
    }
    if before.get("status") != after.get("status")
        && let Some(s) = after.get("status").and_then(|s| s.as_str())
    {
        out.push(format!("status now {s}"));
    }
    out
}

async fn home(state: axum::extract::State<AppState>, caller: Result<Caller, ApiError>) -> Response {
    let Some(c) = signed_in(caller) else { return to_sign_in() };
    let layout = Layout::for_caller(&c, "/");
    let role = c.actor.role;
    let (dashboard, tasks) = if allows(role, Permission::CouncilCounts) {
        let a = c.actor.clone();
        match state.blocking(move |s| Ok((s.dashboard(&a)?, s.my_tasks(&a)?))).await {
            Ok((d, t)) => (Some(d), t),
            Err(e) => return error_page(layout, &e),
        }
    } else {
        (None, Vec::new())
    };
    render(
        &HomePage {
            layout,
            dashboard,
            tasks,
            today: chrono::Utc::now().date_naive(),
            recent_days: cnis_app::service::entries::RECENT_NOTICE_DAYS,
            role_label: role.label(),
            auditor: role == cnis_core::register::Role::Auditor,
            school: role == cnis_core::register::Role::School,
            inspector: role == cnis_core::register::Role::Inspector,
            council_admin: role == cnis_core::register::Role::CouncilAdmin,
        },
        StatusCode::OK,
    )
}

async fn sign_in_page(caller: Result<Caller, ApiError>) -> Response {
    if caller.is_ok() {
        return Redirect::to("/").into_response();
    }
    render(
        &SignInPage {
            layout: Layout::anonymous(),
            errors: Vec::new(),
            message: None,
            email: String::new(),
            has_error: false,
        },
        StatusCode::OK,
    )
}

#[derive(Deserialize)]
struct SignInForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

async fn sign_in(
    state: axum::extract::State<AppState>,
    info: ConnectInfo<std::net::SocketAddr>,
    form: Result<Form<SignInForm>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else { return bad_form() };
    let email = form.email.clone();
    let page = |errors: Vec<FieldError>, message: Option<String>, status| {
        render(
            &SignInPage {
                layout: Layout::anonymous(),
                has_error: !errors.is_empty(),
                errors,
                message,
                email: email.clone(),
            },
            status,
        )
    };
    if let Err(wait) = state.sign_ins.take(client_ip(Some(&info))) {
        return page(
            Vec::new(),
            Some(format!("Too many attempts to sign in. Wait {wait} seconds and try again.")),
            StatusCode::TOO_MANY_REQUESTS,
        );
    }
    if form.email.trim().is_empty() || form.password.is_empty() {
        let mut errors = Vec::new();
        if form.email.trim().is_empty() {
            errors.push(FieldError { field: "email".into(), message: "Enter your email address".into() });
        }
        if form.password.is_empty() {
            errors.push(FieldError { field: "password".into(), message: "Enter your password".into() });
        }
        return page(errors, None, StatusCode::UNPROCESSABLE_ENTITY);
    }
    let (e, p) = (form.email, form.password);
    match state.blocking(move |s| s.sign_in(&e, &p)).await {
        Ok(signed) => {
            let max_age = (signed.expires_at - cnis_app::service::now_ms()) / 1000;
            let mut r = Redirect::to("/").into_response();
            r.headers_mut().insert(header::SET_COOKIE, session_cookie(&signed.token, max_age, state.secure_cookies));
            r
        }
        Err(e) if e.status() == StatusCode::LOCKED => {
            page(Vec::new(), Some(e.detail().to_string()), StatusCode::LOCKED)
        }
        Err(e) if e.status() == StatusCode::UNAUTHORIZED => page(
            vec![FieldError { field: "email".into(), message: "The email address or password is not right".into() }],
            None,
            StatusCode::UNAUTHORIZED,
        ),
        Err(e) => error_page(Layout::anonymous(), &e),
    }
}

#[derive(Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

async fn sign_out(
    state: axum::extract::State<AppState>,
    caller: Result<Caller, ApiError>,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Response {
    let (c, _) = match posted(caller, form) {
        Ok(v) => v,
        Err(page) => return *page,
    };
    if let Via::Session { token, .. } = c.via {
        let _ = state.blocking(move |s| s.sign_out(&token)).await;
    }
    let mut r = Redirect::to("/sign-in").into_response();
    r.headers_mut().insert(header::SET_COOKIE, cleared_cookie(state.secure_cookies));
    r
}

#[derive(Deserialize)]
struct ListParams {
    status: Option<String>,
    page: Option<i64>,
    done: Option<String>,
}

fn banner(done: Option<&str>) -> Option<String> {
    match done? {
        "created" => Some("Register entry created".into()),
        "saved" => Some("Register entry changed".into()),
        "confirmed" => Some("The child is on the register".into()),
        "left" => Some("The child is off the register; the entry is kept until its retention date".into()),
        "merged" => Some("The two children are merged into this one".into()),
        "unmerged" => Some("The merge is undone: each child has their own record again".into()),
        "care" => Some("Social-care involvement recorded".into()),
        _ => None,
    }
}

async fn entries(
    state: axum::extract::State<AppState>,
    caller: Result<Caller, ApiError>,
    q: Result<Query<ListParams>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Some(c) = signed_in(caller) else { return to_sign_in() };
    let layout = Layout::for_caller(&c, "/entries");
    let Ok(Query(q)) = q else {
        return error_page(layout, &ApiError::bad_request("The page number or status in the address is not right."));
    };
    let status = q.status.as_deref().filter(|s| !s.is_empty()).map(EntryStatus::parse);
    let status = match status {
        Some(None) => return error_page(layout, &ApiError::bad_request("There is no such status.")),
        Some(Some(s)) => Some(s),
        None => None,
    };
    let page_no = q.page.unwrap_or(1);
    let a = c.actor.clone();
    let page = match state.blocking(move |s| s.list_entries(&a, status, page_no, 50)).await {
        Ok(p) => p,
        Err(e) => return error_page(layout, &e),
    };
    let pages = (page.total + page.per_page - 1) / page.per_page.max(1);
    let heading = match status {
        Some(EntryStatus::Draft) => "Drafts waiting".to_string(),
        Some(s) => format!("Register: {}", s.label().to_lowercase()),
        None => "The register".to_string(),
    };
    let status_query = status.map(|s| format!("status={}&", s.code())).unwrap_or_default();
    render(
        &EntriesPage { layout, heading, page, pages, status_query, banner: banner(q.done.as_deref()) },
        StatusCode::OK,
    )
}

const SEARCH_FIELDS: &[(&str, &str, Option<&str>)] = &[
    ("given_name", "Given name", None),
    ("family_name", "Family name", None),
    ("dob", "Date of birth", Some("Year-month-day, for example 2014-03-27")),
    ("postcode", "Postcode", None),
    ("upn", "UPN (unique pupil number)", None),
    ("nhs_number", "NHS number", None),
    ("child_id", "Child id", None),
];

fn search_fields(values: &SearchRequest, errors: &[FieldError]) -> Vec<Field> {
    SEARCH_FIELDS
        .iter()
        .map(|(name, label, hint)| {
            let v = match *name {
                "given_name" => &values.given_name,
                "family_name" => &values.family_name,
                "dob" => &values.dob,
                "postcode" => &values.postcode,
                "upn" => &values.upn,
                "nhs_number" => &values.nhs_number,
                _ => &values.child_id,
            };
            field(name, label, *hint, v.as_deref().unwrap_or(""), errors)
        })
        .collect()
}

async fn search_page(caller: Result<Caller, ApiError>) -> Response {
    let Some(c) = signed_in(caller) else { return to_sign_in() };
    let layout = Layout::for_caller(&c, "/search");
    if !allows(c.actor.role, Permission::Search) {
        return error_page(layout, &ServiceError::Forbidden("your role does not allow this").into());
    }
    let csrf = c.csrf().unwrap_or("").to_string();
    render(
        &SearchPage {
            layout,
            errors: Vec::new(),
            csrf,
            fields: search_fields(&SearchRequest::default(), &[]),
            searched: false,
            results: Vec::new(),
        },
        StatusCode::OK,
    )
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct SearchForm {
    csrf: String,
    given_name: String,
    family_name: String,
    dob: String,
    postcode: String,
    upn: String,
    nhs_number: String,
    child_id: String,
}

fn some(s: String) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_string())
}

async fn search(
    state: axum::extract::State<AppState>,
    caller: Result<Caller, ApiError>,
    form: Result<Form<SearchForm>, FormRejection>,
) -> Response {
    let (c, form) = match posted(caller, form) {
        Ok(v) => v,
        Err(page) => return *page,
    };
    let layout = Layout::for_caller(&c, "/search");
    let request = SearchRequest {
        given_name: some(form.given_name),
        family_name: some(form.family_name),
        dob: some(form.dob),
        postcode: some(form.postcode),
        upn: some(form.upn),
        nhs_number: some(form.nhs_number),
        child_id: some(form.child_id),
        sex: None,
    };
    let csrf = c.csrf().unwrap_or("").to_string();
    let (a, r) = (c.actor.clone(), request.clone());
    match state.blocking(move |s| s.search(&a, &r, 25)).await {
        Ok(results) => render(
            &SearchPage {
                layout,
                errors: Vec::new(),
                csrf,
                fields: search_fields(&request, &[]),
                searched: true,
                results,
            },
            StatusCode::OK,
        ),
        Err(e) if e.status() == StatusCode::UNPROCESSABLE_ENTITY => {
            let errors: Vec<FieldError> = e
                .errors()
                .iter()
                .map(|f| FieldError {
                    field: if f.field == "search" { "given_name".into() } else { f.field.clone() },
                    message: f.message.clone(),
                })
                .collect();
            render(
                &SearchPage {
                    layout,
                    fields: search_fields(&request, &errors),
                    errors,
                    csrf,
                    searched: false,
                    results: Vec::new(),
                },
                StatusCode::UNPROCESSABLE_ENTITY,
            )
        }
        Err(e) => error_page(layout, &e),
    }
}

#[derive(Deserialize)]
struct ChildParams {
    done: Option<String>,
}

async fn child(
    state: axum::extract::State<AppState>,
    caller: Result<Caller, ApiError>,
    id: Result<Path<String>, axum::extract::rejection::PathRejection>,
    q: Result<Query<ChildParams>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Some(c) = signed_in(caller) else { return to_sign_in() };
    let layout = Layout::for_caller(&c, "");
    let Ok(Path(id)) = id else { return not_found_page() };
    let done = q.ok().and_then(|Query(q)| q.done);
    let a = c.actor.clone();
    let asked = id.clone();
    let view = match state.blocking(move |s| s.child_audited(&a, &id)).await {
        Ok(pending) => pending.committed().await.map_err(ApiError::from),
        Err(e) => Err(e),
    };
    let view = match view {
        Ok(v) => v,
        Err(e) if e.status() == StatusCode::FORBIDDEN && allows(c.actor.role, Permission::EmergencyAccess) => {
            let page = ErrorPage {
                layout,
                heading: "You cannot see this".into(),
                detail: "This child is not on your council's register.".into(),
                emergency_for: cnis_core::ChildId::parse(&asked).ok().map(|c| c.to_string()),
            };
            return render(&page, StatusCode::FORBIDDEN);
        }
        Err(e) => return error_page(layout, &e),
    };
    let mut flags = Vec::new();
    if let Some(r) = view.restricted.as_ref().and_then(|r| r.first()) {
        if r.content.child_protection_plan == Some(true) {
            flags.push("Child protection plan");
        }
        if r.content.sen.as_deref() == Some("ehc_plan") {
            flags.push("EHC plan");
        }
        if r.content.looked_after == Some(true) {
            flags.push("Looked after");
        }
    }
    let today_date = chrono::Utc::now().date_naive();
    for e in view.care.iter().flatten().filter(|e| e.current_on(today_date)) {
        match e.kind {
            CareKind::ChildProtectionPlan if !flags.contains(&"Child protection plan") => {
                flags.push("Child protection plan")
            }
            CareKind::Section47 if !flags.contains(&"Section 47 enquiry") => flags.push("Section 47 enquiry"),
            _ => {}
        }
        if e.risk_of_harm_at_home && !flags.contains(&"At risk of harm at home") {
            flags.push("At risk of harm at home");
        }
    }
    let own = c.actor.council.map(|x| x.to_string());
    let mine = view.entries.first().is_some_and(|v| Some(&v.entry.council) == own.as_ref())
        && allows(c.actor.role, Permission::EditRegister);
    let care_kinds = CareKind::ALL.iter().map(|k| (k.code(), k.label())).collect();
    let care_start = crate::pages_cases::date_field("care_start", "When it began", "For example, 5 1 2026", "", &[]);
    let care_end =
        crate::pages_cases::date_field("care_end", "When it ended", "Leave blank if it has not ended", "", &[]);
    let csrf = c.csrf().unwrap_or("").to_string();
    let leave_reasons = LeaveReason::ALL.iter().map(|r| (r.code(), r.label())).collect();
    let today = chrono::Utc::now().date_naive().to_string();
    render(
        &ChildPage {
            layout,
            view,
            flags,
            mine,
            csrf,
            banner: banner(done.as_deref()),
            leave_reasons,
            today,
            care_kinds,
            care_start,
            care_end,
            today_date,
        },
        StatusCode::OK,
    )
}

#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub(crate) struct EntryForm {
    pub(crate) csrf: String,
    pub(crate) version: String,
    pub(crate) given_name: String,
    pub(crate) middle_names: String,
    pub(crate) family_name: String,
    pub(crate) sex: String,
    pub(crate) dob_day: String,
    pub(crate) dob_month: String,
    pub(crate) dob_year: String,
    pub(crate) address: String,
    pub(crate) postcode: String,
    pub(crate) upn: String,
    pub(crate) nhs_number: String,
    pub(crate) parent_name: String,
    pub(crate) parent_educates: String,
    pub(crate) reason_not_in_school: String,
    pub(crate) previous_school: String,
    pub(crate) known_on: String,
    pub(crate) reason: String,
    pub(crate) source: String,
    /// The question page posted (adding a child); none for a whole form.
    pub(crate) step: String,
    /// The button pressed on a question page: `back`, `change-<page>`, or
    /// none to continue.
    pub(crate) action: String,
    /// Set when a page was reached by "Change" from "Check your answers".
    pub(crate) returning: String,
}

impl EntryForm {
    fn from_content(c: &EntryContent, version: i64) -> EntryForm {
        let (y, m, d) = match chrono::NaiveDate::parse_from_str(&c.dob, "%Y-%m-%d") {
            Ok(d) => {
                use chrono::Datelike;
                (d.year().to_string(), d.month().to_string(), d.day().to_string())
            }
            Err(_) => Default::default(),
        };
        let s = |o: &Option<String>| o.clone().unwrap_or_default();
        EntryForm {
            version: version.to_string(),
            given_name: c.given_name.clone(),
            middle_names: s(&c.middle_names),
            family_name: c.family_name.clone(),
            sex: s(&c.sex),
            dob_day: d,
            dob_month: m,
            dob_year: y,
            address: s(&c.address),
            postcode: s(&c.postcode),
            upn: s(&c.upn),
            nhs_number: s(&c.nhs_number),
            parent_name: c.parents.first().map(|p| p.name.clone()).unwrap_or_default(),
            parent_educates: if c.parents.first().is_some_and(|p| p.provides_education) {
                "yes".into()
            } else {
                String::new()
            },
            reason_not_in_school: s(&c.reason_not_in_school),
            previous_school: s(&c.previous_school),
            known_on: s(&c.known_on),
            ..EntryForm::default()
        }
    }

    /// The child's name and sex, as fields (the date of birth is
    /// [`EntryForm::dob_field`]).
    pub(crate) fn child_fields(&self, e: &[FieldError]) -> Vec<Field> {
        vec![
            field("given_name", "Given name", None, &self.given_name, e),
            field("middle_names", "Middle names (optional)", None, &self.middle_names, e),
            field("family_name", "Family name", None, &self.family_name, e),
            field("sex", "Sex (optional)", Some("M or F"), &self.sex, e),
        ]
    }

    /// The date of birth.
    pub(crate) fn dob_field(&self, e: &[FieldError]) -> crate::pages_cases::DateField {
        crate::pages_cases::DateField {
            name: "dob",
            legend: "Date of birth",
            hint: "For example, 27 3 2014",
            day: self.dob_day.clone(),
            month: self.dob_month.clone(),
            year: self.dob_year.clone(),
            error: error_for("dob", e),
        }
    }

    /// The home.
    pub(crate) fn home_fields(&self, e: &[FieldError]) -> Vec<Field> {
        vec![
            field("address", "Home address", Some("House number and street, town"), &self.address, e),
            field("postcode", "Postcode", Some("The council checks it is in its area"), &self.postcode, e),
        ]
    }

    /// A parent (whether they educate the child is a checkbox beside it).
    pub(crate) fn parent_fields(&self, e: &[FieldError]) -> Vec<Field> {
        vec![field("parent_name", "Parent's full name", Some("Leave blank if not known yet"), &self.parent_name, e)]
    }

    /// The council's own fields.
    pub(crate) fn council_fields(&self, e: &[FieldError]) -> Vec<Field> {
        vec![
            field("upn", "UPN (unique pupil number, optional)", None, &self.upn, e),
            field("nhs_number", "NHS number (optional)", None, &self.nhs_number, e),
            field(
                "previous_school",
                "Previous school's LAESTAB (optional)",
                Some("Seven digits, for example 8012000"),
                &self.previous_school,
                e,
            ),
            field(
                "reason_not_in_school",
                "Why the child is not in school (optional)",
                None,
                &self.reason_not_in_school,
                e,
            ),
            field(
                "known_on",
                "Date the council learnt of the child (optional)",
                Some("Year-month-day"),
                &self.known_on,
                e,
            ),
        ]
    }

    /// The content the form describes, over what the entry held before
    /// (fields the form does not show are kept).
    pub(crate) fn content(&self, mut c: EntryContent) -> EntryContent {
        c.given_name = self.given_name.clone();
        c.middle_names = some(self.middle_names.clone());
        c.family_name = self.family_name.clone();
        c.sex = some(self.sex.clone());
        let (d, m, y) = (self.dob_day.trim(), self.dob_month.trim(), self.dob_year.trim());
        c.dob = match (y.parse::<i32>(), m.parse::<u32>(), d.parse::<u32>()) {
            (Ok(y), Ok(m), Ok(d)) => {
                chrono::NaiveDate::from_ymd_opt(y, m, d).map(|x| x.to_string()).unwrap_or_else(|| "invalid".into())
            }
            _ if y.is_empty() && m.is_empty() && d.is_empty() => String::new(),
            _ => "invalid".into(),
        };
        c.address = some(self.address.clone());
        c.postcode = some(self.postcode.clone());
        c.upn = some(self.upn.clone());
        c.nhs_number = some(self.nhs_number.clone());
        let name = self.parent_name.trim().to_string();
        let educates = !self.parent_educates.is_empty();
        match (c.parents.first_mut(), name.is_empty()) {
            (Some(p), false) => {
                p.name = name;
                p.provides_education = educates;
            }
            (Some(_), true) => {
                c.parents.remove(0);
            }
            (None, false) => c.parents.push(Parent { name, provides_education: educates, ..Parent::default() }),
            (None, true) => {}
        }
        c.reason_not_in_school = some(self.reason_not_in_school.clone());
        c.previous_school = some(self.previous_school.clone());
        c.known_on = some(self.known_on.clone());
        c
    }
}

#[allow(clippy::too_many_arguments)]
fn entry_form_page(
    c: &Caller,
    f: &EntryForm,
    errors: Vec<FieldError>,
    heading: &'static str,
    action: String,
    version: i64,
    button: &'static str,
    current: &str,
) -> EntryFormPage {
    let e = &errors;
    EntryFormPage {
        layout: Layout::for_caller(c, current),
        csrf: c.csrf().unwrap_or("").to_string(),
        heading,
        action,
        version,
        child_fields: f.child_fields(e),
        dob: f.dob_field(e),
        home_fields: f.home_fields(e),
        parent_fields: f.parent_fields(e),
        parent_educates: !f.parent_educates.is_empty(),
        council_fields: f.council_fields(e),
        reason_field: field(
            "reason",
            "Reason for this change",
            Some("For example, \"parent phoned\" or \"home visit on 3 March\""),
            &f.reason,
            e,
        ),
        button,
        errors,
    }
}

pub(crate) fn form_errors(e: &ApiError) -> Vec<FieldError> {
    if e.errors().is_empty() {
        vec![FieldError { field: "given_name".into(), message: e.detail().to_string() }]
    } else {
        e.errors()
            .iter()
            .map(|f| FieldError { field: form_field(&f.field).to_string(), message: f.message.clone() })
            .collect()
    }
}

async fn edit_entry_page(
    state: axum::extract::State<AppState>,
    caller: Result<Caller, ApiError>,
    id: Result<Path<i64>, axum::extract::rejection::PathRejection>,
) -> Response {
    let Some(c) = signed_in(caller) else { return to_sign_in() };
    let Ok(Path(id)) = id else { return not_found_page() };
    let a = c.actor.clone();
    match state.blocking(move |s| s.entry(&a, id)).await {
        Ok(v) => {
            let form = EntryForm::from_content(&v.entry.content, v.entry.version);
            let page = entry_form_page(
                &c,
                &form,
                Vec::new(),
                "Change the register entry",
                format!("/entries/{id}/edit"),
                v.entry.version,
                "Save changes",
                "",
            );
            render(&page, StatusCode::OK)
        }
        Err(e) => error_page(Layout::for_caller(&c, ""), &e),
    }
}

async fn edit_entry(
    state: axum::extract::State<AppState>,
    caller: Result<Caller, ApiError>,
    id: Result<Path<i64>, axum::extract::rejection::PathRejection>,
    form: Result<Form<EntryForm>, FormRejection>,
) -> Response {
    let (c, form) = match posted(caller, form) {
        Ok(v) => v,
        Err(page) => return *page,
    };
    let Ok(Path(id)) = id else { return not_found_page() };
    let Ok(version) = form.version.trim().parse::<i64>() else { return bad_form() };
    let (a, reason) = (c.actor.clone(), form.reason.clone());
    let edited = form.clone();
    match state.blocking(move |s| s.edit_entry(&a, id, version, |c| edited.content(c), &reason)).await {
        Ok(v) => Redirect::to(&format!("/children/{}?done=saved", v.entry.child_id)).into_response(),
        Err(e) if e.status() == StatusCode::UNPROCESSABLE_ENTITY => {
            let page = entry_form_page(
                &c,
                &form,
                form_errors(&e),
                "Change the register entry",
                format!("/entries/{id}/edit"),
                version,
                "Save changes",
                "",
            );
            render(&page, e.status())
        }
        Err(e) => error_page(Layout::for_caller(&c, ""), &e),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ConfirmForm {
    csrf: String,
    version: String,
}

async fn confirm_entry(
    state: axum::extract::State<AppState>,
    caller: Result<Caller, ApiError>,
    id: Result<Path<i64>, axum::extract::rejection::PathRejection>,
    form: Result<Form<ConfirmForm>, FormRejection>,
) -> Response {
    let (c, form) = match posted(caller, form) {
        Ok(v) => v,
        Err(page) => return *page,
    };
    let Ok(Path(id)) = id else { return not_found_page() };
    let Ok(version) = form.version.trim().parse::<i64>() else { return bad_form() };
    let a = c.actor.clone();
    match state.blocking(move |s| s.confirm_entry(&a, id, version, "checked by the caseworker and confirmed")).await {
        Ok(v) => Redirect::to(&format!("/children/{}?done=confirmed", v.entry.child_id)).into_response(),
        Err(e) => error_page(Layout::for_caller(&c, ""), &e),
    }
}

async fn import_page(caller: Result<Caller, ApiError>) -> Response {
    let Some(c) = signed_in(caller) else { return to_sign_in() };
    if !allows(c.actor.role, Permission::Import) {
        return error_page(
            Layout::for_caller(&c, ""),
            &ServiceError::Forbidden("your role does not allow this").into(),
        );
    }
    let csrf = c.csrf().unwrap_or("").to_string();
    let run_field = field("run", "Tracking run number", Some("As `cnis track` printed it"), "", &[]);
    render(
        &ImportPage { layout: Layout::for_caller(&c, ""), errors: Vec::new(), csrf, run_field, report: None },
        StatusCode::OK,
    )
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ImportForm {
    csrf: String,
    run: String,
}

async fn import(
    state: axum::extract::State<AppState>,
    caller: Result<Caller, ApiError>,
    form: Result<Form<ImportForm>, FormRejection>,
) -> Response {
    let (c, form) = match posted(caller, form) {
        Ok(v) => v,
        Err(page) => return *page,
    };
    let csrf = c.csrf().unwrap_or("").to_string();
    let page = |errors: Vec<FieldError>, report: Option<ImportReport>, status| {
        let run_field = field("run", "Tracking run number", Some("As `cnis track` printed it"), &form.run, &errors);
        render(
            &ImportPage { layout: Layout::for_caller(&c, ""), errors, csrf: csrf.clone(), run_field, report },
            status,
        )
    };
    let Ok(run) = form.run.trim().parse::<i64>() else {
        return page(
            vec![FieldError { field: "run".into(), message: "Enter the tracking run's number, a whole number".into() }],
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    };
    match crate::import_run(&state, c.actor.clone(), run).await {
        Ok(r) => page(Vec::new(), Some(r), StatusCode::OK),
        Err(e) if e.status() == StatusCode::NOT_FOUND || e.status() == StatusCode::CONFLICT => {
            page(vec![FieldError { field: "run".into(), message: e.detail().to_string() }], None, e.status())
        }
        Err(e) => error_page(Layout::for_caller(&c, ""), &e),
    }
}

async fn emergency_page(
    caller: Result<Caller, ApiError>,
    id: Result<Path<String>, axum::extract::rejection::PathRejection>,
) -> Response {
    let Some(c) = signed_in(caller) else { return to_sign_in() };
    let Ok(Path(id)) = id else { return not_found_page() };
    if !allows(c.actor.role, Permission::EmergencyAccess) {
        return error_page(
            Layout::for_caller(&c, ""),
            &ServiceError::Forbidden("your role does not allow this").into(),
        );
    }
    let Ok(child) = cnis_core::ChildId::parse(&id) else { return not_found_page() };
    let csrf = c.csrf().unwrap_or("").to_string();
    let reason = field("reason", "Why the child may be at risk", Some(EMERGENCY_HINT), "", &[]);
    render(
        &EmergencyPage {
            layout: Layout::for_caller(&c, ""),
            errors: Vec::new(),
            csrf,
            child_id: child.to_string(),
            reason,
        },
        StatusCode::OK,
    )
}

const EMERGENCY_HINT: &str =
    "At least 20 characters. The council that holds the record will see this reason, your name and when.";

#[derive(Deserialize, Default)]
#[serde(default)]
struct EmergencyForm {
    csrf: String,
    reason: String,
}

async fn emergency(
    state: axum::extract::State<AppState>,
    caller: Result<Caller, ApiError>,
    id: Result<Path<String>, axum::extract::rejection::PathRejection>,
    form: Result<Form<EmergencyForm>, FormRejection>,
) -> Response {
    let (c, form) = match posted(caller, form) {
        Ok(v) => v,
        Err(page) => return *page,
    };
    let Ok(Path(id)) = id else { return not_found_page() };
    let (a, child, reason) = (c.actor.clone(), id.clone(), form.reason.clone());
    match state.blocking(move |s| s.emergency_access(&a, &child, &reason)).await {
        Ok(()) => Redirect::to(&format!("/children/{id}")).into_response(),
        Err(e) if e.status() == StatusCode::UNPROCESSABLE_ENTITY => {
            let errors = form_errors(&e);
            let reason = field("reason", "Why the child may be at risk", Some(EMERGENCY_HINT), &form.reason, &errors);
            let csrf = c.csrf().unwrap_or("").to_string();
            render(
                &EmergencyPage { layout: Layout::for_caller(&c, ""), errors, csrf, child_id: id, reason },
                StatusCode::UNPROCESSABLE_ENTITY,
            )
        }
        Err(e) => error_page(Layout::for_caller(&c, ""), &e),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct LeaveForm {
    csrf: String,
    version: String,
    why: String,
    on: String,
    reason: String,
}

async fn leave_entry(
    state: axum::extract::State<AppState>,
    caller: Result<Caller, ApiError>,
    id: Result<Path<i64>, axum::extract::rejection::PathRejection>,
    form: Result<Form<LeaveForm>, FormRejection>,
) -> Response {
    let (c, form) = match posted(caller, form) {
        Ok(v) => v,
        Err(page) => return *page,
    };
    let Ok(Path(id)) = id else { return not_found_page() };
    let (Ok(version), Some(why)) = (form.version.trim().parse::<i64>(), LeaveReason::parse(&form.why)) else {
        return bad_form();
    };
    let Ok(on) = chrono::NaiveDate::parse_from_str(form.on.trim(), "%Y-%m-%d") else {
        return error_page(
            Layout::for_caller(&c, ""),
            &ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Enter the day the child left as a real date, year-month-day. Go back and try again.",
            ),
        );
    };
    let a = c.actor.clone();
    let reason = form.reason;
    match state.blocking(move |s| s.leave_entry(&a, id, version, why, on, &reason)).await {
        Ok(v) => Redirect::to(&format!("/children/{}?done=left", v.entry.child_id)).into_response(),
        Err(e) => error_page(Layout::for_caller(&c, ""), &e),
    }
}
