//! Pages for the people who run the service rather than the register: a
//! council administrator's accounts (list, add, switch off or on, unlock),
//! an auditor's reading of the audit chain (who did what and when, never
//! the children), and the organisation switcher of a shared service's
//! people, who act for one of their councils at a time. As in [`crate::pages`]: server-rendered, a POST then
//! a redirect (or, for a new account, the page that shows its password
//! once), every form with the session's form token.

use askama::Template;
use axum::Router;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Path, Query};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use cnis_app::service::accounts::{NewAccount, made_up_password};
use cnis_app::service::{ChainRow, FieldError, Permission, ServiceError, User, allows, now_ms};
use cnis_core::register::Role;
use serde::Deserialize;

use crate::auth::Caller;
use crate::pages::{
    Field, Layout, Posted, error_page, field, form_errors, not_found_page, posted, render, signed_in, to_sign_in,
};
use crate::problem::ApiError;
use crate::state::AppState;

/// The administration page routes: (method, path).
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/accounts"),
    ("GET", "/accounts/new"),
    ("POST", "/accounts/new"),
    ("POST", "/accounts/{id}"),
    ("GET", "/audit"),
    ("GET", "/council"),
    ("POST", "/council"),
];

/// The administration page routes.
pub fn routes() -> Router<AppState> {
    let mut r = Router::new();
    for (method, path) in ROUTES {
        let handler = match (*method, *path) {
            ("GET", "/accounts") => get(accounts),
            ("GET", "/accounts/new") => get(new_account_page),
            ("POST", "/accounts/new") => post(add_account),
            ("POST", "/accounts/{id}") => post(change_account),
            ("GET", "/audit") => get(audit),
            ("GET", "/council") => get(council_page),
            ("POST", "/council") => post(switch_council),
            _ => unreachable!("page route {method} {path} has no handler"),
        };
        r = r.route(path, handler);
    }
    r
}

/// The roles a council administrator gives (code, words).
const COUNCIL_ROLES: [Role; 4] = [Role::Caseworker, Role::TeamManager, Role::CouncilAdmin, Role::School];

/// An account's state in words, and the tag colour.
pub fn account_state(u: &User) -> (&'static str, &'static str) {
    let now = now_ms();
    if u.disabled {
        ("Switched off", "govuk-tag--grey")
    } else if u.locked_until.is_some_and(|t| t > now) {
        ("Locked after failed sign-ins", "govuk-tag--red")
    } else {
        ("Active", "govuk-tag--green")
    }
}

#[derive(Template)]
#[template(path = "accounts.html")]
struct AccountsPage {
    layout: Layout,
    accounts: Vec<User>,
    csrf: String,
    me: i64,
    banner: Option<String>,
    /// The council the administrator acts for (an account of another
    /// council is one of a shared service's, let act for this one).
    own: Option<cnis_core::LaCode>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct AccountsParams {
    done: Option<String>,
}

async fn accounts(
    state: axum::extract::State<AppState>,
    caller: Result<Caller, ApiError>,
    q: Result<Query<AccountsParams>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Some(c) = signed_in(caller) else { return to_sign_in() };
    let layout = Layout::for_caller(&c, "/accounts");
    let done = q.ok().and_then(|Query(q)| q.done);
    let a = c.actor.clone();
    match state.blocking(move |s| s.accounts(&a)).await {
        Ok(accounts) => {
            let banner = done.as_deref().and_then(|d| match d {
                "off" => Some("Account switched off: it can no longer sign in".to_string()),
                "on" => Some("Account switched on".to_string()),
                "unlocked" => Some("Account unlocked".to_string()),
                "removed" => Some("The account no longer acts for your council".to_string()),
                _ => None,
            });
            let page = AccountsPage {
                layout,
                accounts,
                csrf: c.csrf().unwrap_or("").to_string(),
                me: c.actor.user_id,
                banner,
                own: c.actor.council,
            };
            render(&page, StatusCode::OK)
        }
        Err(e) => error_page(layout, &e),
    }
}

#[derive(Deserialize, Default, Clone)]
#[serde(default)]
struct AccountForm {
    csrf: String,
    email: String,
    name: String,
    role: String,
    school: String,
}

#[derive(Template)]
#[template(path = "account_form.html")]
struct AccountFormPage {
    layout: Layout,
    csrf: String,
    errors: Vec<FieldError>,
    fields: Vec<Field>,
    school: Field,
    /// (code, words, chosen).
    roles: Vec<(&'static str, &'static str, bool)>,
    role_error: Option<String>,
    /// Once added: the new account's e-mail address and its password,
    /// shown this once.
    added: Option<(String, String)>,
}

fn account_form_page(c: &Caller, form: &AccountForm, errors: Vec<FieldError>) -> AccountFormPage {
    AccountFormPage {
        layout: Layout::for_caller(c, "/accounts"),
        csrf: c.csrf().unwrap_or("").to_string(),
        fields: vec![
            field("name", "Name", Some("As colleagues know them"), &form.name, &errors),
            field("email", "E-mail address", Some("They sign in with it"), &form.email, &errors),
        ],
        school: field(
            "school",
            "The school's LAESTAB",
            Some("Seven digits starting with your council's code: for a school user only"),
            &form.school,
            &errors,
        ),
        roles: COUNCIL_ROLES.iter().map(|r| (r.code(), r.label(), r.code() == form.role)).collect(),
        role_error: errors.iter().find(|e| e.field == "role").map(|e| e.message.clone()),
        errors,
        added: None,
    }
}

async fn new_account_page(caller: Result<Caller, ApiError>) -> Response {
    let Some(c) = signed_in(caller) else { return to_sign_in() };
    if !allows(c.actor.role, Permission::ManageAccounts) {
        return error_page(
            Layout::for_caller(&c, ""),
            &ServiceError::Forbidden("your role does not allow this").into(),
        );
    }
    render(&account_form_page(&c, &AccountForm::default(), Vec::new()), StatusCode::OK)
}

async fn add_account(
    state: axum::extract::State<AppState>,
    caller: Result<Caller, ApiError>,
    form: Result<Form<AccountForm>, FormRejection>,
) -> Response {
    let (c, form) = match posted(caller, form) {
        Ok(v) => v,
        Err(page) => return *page,
    };
    let Some(role) = Role::parse(form.role.trim()).filter(|r| COUNCIL_ROLES.contains(r)) else {
        let e = FieldError { field: "role".into(), message: "Choose the person's role".into() };
        return render(&account_form_page(&c, &form, vec![e]), StatusCode::UNPROCESSABLE_ENTITY);
    };
    let password = made_up_password();
    let new = NewAccount {
        email: form.email.clone(),
        name: form.name.clone(),
        role,
        council: c.actor.council,
        school: Some(form.school.trim().to_string()).filter(|s| !s.is_empty()),
        password: Some(password.clone()),
    };
    let a = c.actor.clone();
    match state.blocking(move |s| s.add_account(Some(&a), &new)).await {
        Ok(_) => {
            let mut page = account_form_page(&c, &AccountForm::default(), Vec::new());
            page.added = Some((form.email.trim().to_ascii_lowercase(), password));
            render(&page, StatusCode::OK)
        }
        Err(e) if e.status() == StatusCode::UNPROCESSABLE_ENTITY => {
            render(&account_form_page(&c, &form, form_errors(&e)), StatusCode::UNPROCESSABLE_ENTITY)
        }
        Err(e) => error_page(Layout::for_caller(&c, ""), &e),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ChangeForm {
    csrf: String,
    /// `off`, `on`, `unlock`, or `remove` (another council's account's
    /// access to this council).
    action: String,
}

async fn change_account(
    state: axum::extract::State<AppState>,
    caller: Result<Caller, ApiError>,
    id: Result<Path<i64>, axum::extract::rejection::PathRejection>,
    form: Result<Form<ChangeForm>, FormRejection>,
) -> Response {
    let (c, form) = match posted(caller, form) {
        Ok(v) => v,
        Err(page) => return *page,
    };
    let Ok(Path(id)) = id else { return not_found_page() };
    let (disabled, unlock, done) = match form.action.as_str() {
        "off" => (Some(true), false, "off"),
        "on" => (Some(false), false, "on"),
        "unlock" => (None, true, "unlocked"),
        // Another council's account: its access to this council goes.
        "remove" => (Some(true), false, "removed"),
        _ => {
            return error_page(
                Layout::for_caller(&c, ""),
                &ApiError::bad_request("Choose what to do with the account."),
            );
        }
    };
    let a = c.actor.clone();
    match state.blocking(move |s| s.change_account(&a, id, disabled, unlock)).await {
        Ok(_) => Redirect::to(&format!("/accounts?done={done}")).into_response(),
        Err(e) => error_page(Layout::for_caller(&c, ""), &e),
    }
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    layout: Layout,
    rows: Vec<ChainRow>,
    total: i64,
    /// The first row shown (from 1).
    from: i64,
    /// Links to the pages before and after, as `after` values.
    earlier: Option<i64>,
    later: Option<i64>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct AuditParams {
    after: Option<i64>,
}

/// Rows a page of the audit shows.
const AUDIT_PAGE: i64 = 100;

async fn audit(
    state: axum::extract::State<AppState>,
    caller: Result<Caller, ApiError>,
    q: Result<Query<AuditParams>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Some(c) = signed_in(caller) else { return to_sign_in() };
    let layout = Layout::for_caller(&c, "/audit");
    if !allows(c.actor.role, Permission::ReadAudit) {
        return error_page(layout, &ServiceError::Forbidden("your role does not allow this").into());
    }
    let after = q.ok().and_then(|Query(q)| q.after);
    let a = c.actor.clone();
    let found = state
        .blocking(move |s| {
            // The count first: the read is itself audited, after it.
            let total = s.audit_count()?;
            let after = after.unwrap_or(total - AUDIT_PAGE).clamp(0, total.max(0));
            Ok((total, after, s.audit_chain(&a, after, AUDIT_PAGE)?))
        })
        .await;
    match found {
        Ok((total, after, rows)) => {
            let earlier = (after > 0).then(|| (after - AUDIT_PAGE).max(0));
            let later = (after + AUDIT_PAGE < total).then_some(after + AUDIT_PAGE);
            render(&AuditPage { layout, rows, total, from: after + 1, earlier, later }, StatusCode::OK)
        }
        Err(e) => error_page(layout, &e),
    }
}

#[derive(Template)]
#[template(path = "council.html")]
struct CouncilPage {
    layout: Layout,
    csrf: String,
    /// (code, name, acting for it now).
    councils: Vec<(String, String, bool)>,
}

async fn council_page(caller: Result<Caller, ApiError>) -> Response {
    let Some(c) = signed_in(caller) else { return to_sign_in() };
    let layout = Layout::for_caller(&c, "");
    if c.actor.councils.len() < 2 || c.csrf().is_none() {
        return error_page(layout, &ServiceError::Forbidden("your account acts for one council only").into());
    }
    let councils =
        c.actor.councils.iter().map(|l| (l.to_string(), l.info().name.clone(), Some(*l) == c.actor.council)).collect();
    render(&CouncilPage { layout, csrf: c.csrf().unwrap_or("").to_string(), councils }, StatusCode::OK)
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct CouncilForm {
    csrf: String,
    council: String,
}

async fn switch_council(
    state: axum::extract::State<AppState>,
    caller: Result<Caller, ApiError>,
    form: Result<Form<CouncilForm>, FormRejection>,
) -> Response {
    let (c, form) = match posted(caller, form) {
        Ok(v) => v,
        Err(page) => return *page,
    };
    let crate::auth::Via::Session { token, .. } = c.via.clone() else {
        return error_page(Layout::for_caller(&c, ""), &ServiceError::Forbidden("sign in to change council").into());
    };
    let Ok(council) = cnis_core::LaCode::parse(form.council.trim()) else {
        return error_page(Layout::for_caller(&c, ""), &ApiError::bad_request("Choose one of your councils."));
    };
    match state.blocking(move |s| s.switch_council(&token, council)).await {
        Ok(_) => Redirect::to("/").into_response(),
        Err(e) => error_page(Layout::for_caller(&c, ""), &e),
    }
}

crate::pages::posted_forms!(AccountForm, ChangeForm, CouncilForm);
