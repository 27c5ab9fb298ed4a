//! Adding a child by hand as question pages (the long form split as the
//! GOV.UK pattern asks): the child, their home, a parent, the council's
//! record, then "Check your answers" with a change button for each part,
//! then the draft is saved. The answers so far travel with each page as
//! hidden fields of a POST (never in the address), so nothing is kept on
//! the server until the draft is saved; each page is checked by the same
//! rules the service applies when it saves (`service::entries::validate`),
//! kept to the fields that page asks. A POST with no step (a whole form at
//! once, as a script sends it) is saved directly.

use askama::Template;
use axum::Router;
use axum::extract::Form;
use axum::extract::rejection::FormRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use cnis_app::service::entries::{NewEntry, validate};
use cnis_app::service::{FieldError, Permission, ServiceError, allows};
use cnis_core::register::{EntryContent, EntrySource};

use crate::auth::Caller;
use crate::pages::{EntryForm, Field, Layout, error_page, field, form_errors, posted, render, signed_in, to_sign_in};
use crate::problem::ApiError;
use crate::state::AppState;

/// The question pages' routes: (method, path).
pub const ROUTES: &[(&str, &str)] = &[("GET", "/entries/new"), ("POST", "/entries/new")];

/// The question pages' routes.
pub fn routes() -> Router<AppState> {
    Router::new().route("/entries/new", get(first_page).post(next_page))
}

/// One question page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Child,
    Home,
    Parent,
    Council,
    Check,
}

impl Step {
    const ALL: [Step; 5] = [Step::Child, Step::Home, Step::Parent, Step::Council, Step::Check];

    fn code(self) -> &'static str {
        match self {
            Step::Child => "child",
            Step::Home => "home",
            Step::Parent => "parent",
            Step::Council => "council",
            Step::Check => "check",
        }
    }

    fn parse(s: &str) -> Option<Step> {
        Step::ALL.into_iter().find(|x| x.code() == s)
    }

    fn heading(self) -> &'static str {
        match self {
            Step::Child => "About the child",
            Step::Home => "Where the child lives",
            Step::Parent => "The child's parent",
            Step::Council => "How the council knows of the child",
            Step::Check => "Check your answers before adding the child",
        }
    }

    fn next(self) -> Step {
        match self {
            Step::Child => Step::Home,
            Step::Home => Step::Parent,
            Step::Parent => Step::Council,
            Step::Council | Step::Check => Step::Check,
        }
    }

    fn back(self) -> Step {
        match self {
            Step::Child | Step::Home => Step::Child,
            Step::Parent => Step::Home,
            Step::Council => Step::Parent,
            Step::Check => Step::Council,
        }
    }

    /// The form fields this page asks (the date of birth as `dob`).
    fn fields(self) -> &'static [&'static str] {
        match self {
            Step::Child => &["given_name", "middle_names", "family_name", "sex", "dob"],
            Step::Home => &["address", "postcode"],
            Step::Parent => &["parent_name", "parent_educates"],
            Step::Council => &["source", "upn", "nhs_number", "previous_school", "reason_not_in_school", "known_on"],
            Step::Check => &["reason"],
        }
    }

    /// The page that asks a field (an error names it by its API name).
    fn of(field: &str) -> Step {
        let field = if field.starts_with("parents") { "parent_name" } else { field };
        Step::ALL.into_iter().find(|s| s.fields().contains(&field)).unwrap_or(Step::Check)
    }
}

/// Every field of the form with its value, for the hidden inputs.
fn answers(f: &EntryForm) -> Vec<(&'static str, String)> {
    vec![
        ("given_name", f.given_name.clone()),
        ("middle_names", f.middle_names.clone()),
        ("family_name", f.family_name.clone()),
        ("sex", f.sex.clone()),
        ("dob_day", f.dob_day.clone()),
        ("dob_month", f.dob_month.clone()),
        ("dob_year", f.dob_year.clone()),
        ("address", f.address.clone()),
        ("postcode", f.postcode.clone()),
        ("parent_name", f.parent_name.clone()),
        ("parent_educates", f.parent_educates.clone()),
        ("source", f.source.clone()),
        ("upn", f.upn.clone()),
        ("nhs_number", f.nhs_number.clone()),
        ("previous_school", f.previous_school.clone()),
        ("reason_not_in_school", f.reason_not_in_school.clone()),
        ("known_on", f.known_on.clone()),
        ("reason", f.reason.clone()),
    ]
}

/// A row of "Check your answers".
struct Answer {
    label: &'static str,
    value: String,
    step: &'static str,
}

#[derive(Template)]
#[template(path = "entry_question.html")]
struct QuestionPage {
    layout: Layout,
    csrf: String,
    step: &'static str,
    heading: &'static str,
    /// Which page of how many (the check page is the last).
    number: usize,
    of: usize,
    errors: Vec<FieldError>,
    /// The fields of this page.
    fields: Vec<Field>,
    dob: crate::pages_cases::DateField,
    parent_educates: bool,
    /// (code, words, chosen).
    sources: Vec<(&'static str, &'static str, bool)>,
    /// Every answer not asked on this page.
    hidden: Vec<(&'static str, String)>,
    /// Every answer, for "Back" and "Change".
    all: Vec<(&'static str, String)>,
    /// Whether the page was reached by "Change" (continue goes back to the
    /// check page).
    returning: bool,
    summary: Vec<Answer>,
}

fn question_page(c: &Caller, f: &EntryForm, step: Step, errors: Vec<FieldError>, returning: bool) -> QuestionPage {
    let e = &errors;
    let asked = step.fields();
    let hidden = answers(f)
        .into_iter()
        .filter(|(name, _)| {
            let key = if name.starts_with("dob_") { "dob" } else { name };
            !asked.contains(&key)
        })
        .collect();
    let fields = match step {
        Step::Child => f.child_fields(e),
        Step::Home => f.home_fields(e),
        Step::Parent => f.parent_fields(e),
        Step::Council => f.council_fields(e),
        Step::Check => vec![field(
            "reason",
            "Reason for adding the child",
            Some("For example, \"parent phoned\" or \"school's notice\""),
            &f.reason,
            e,
        )],
    };
    let or_none = |s: &str| if s.trim().is_empty() { "Not given".to_string() } else { s.trim().to_string() };
    let dob = crate::pages_cases::ymd(&f.dob_day, &f.dob_month, &f.dob_year);
    let source = EntrySource::parse(&f.source).unwrap_or(EntrySource::Hand);
    let summary = vec![
        Answer {
            label: "Name",
            value: format!("{} {} {}", f.given_name.trim(), f.middle_names.trim(), f.family_name.trim())
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" "),
            step: "child",
        },
        Answer { label: "Date of birth", value: crate::pages::date(&dob), step: "child" },
        Answer { label: "Sex", value: or_none(&f.sex), step: "child" },
        Answer {
            label: "Home address",
            value: or_none(&format!("{} {}", f.address.trim(), f.postcode.trim())),
            step: "home",
        },
        Answer {
            label: "Parent",
            value: match (f.parent_name.trim(), f.parent_educates.is_empty()) {
                ("", _) => "Not given".into(),
                (n, true) => n.to_string(),
                (n, false) => format!("{n}, who provides the child's education"),
            },
            step: "parent",
        },
        Answer { label: "How the council learnt of the child", value: source.label().to_string(), step: "council" },
        Answer { label: "UPN", value: or_none(&f.upn), step: "council" },
        Answer { label: "NHS number", value: or_none(&f.nhs_number), step: "council" },
        Answer { label: "Previous school", value: or_none(&f.previous_school), step: "council" },
        Answer { label: "Why not in school", value: or_none(&f.reason_not_in_school), step: "council" },
        Answer { label: "Date the council learnt of the child", value: or_none(&f.known_on), step: "council" },
    ];
    QuestionPage {
        layout: Layout::for_caller(c, "/entries/new"),
        csrf: c.csrf().unwrap_or("").to_string(),
        step: step.code(),
        heading: step.heading(),
        number: Step::ALL.iter().position(|s| *s == step).unwrap_or(0) + 1,
        of: Step::ALL.len(),
        fields,
        dob: f.dob_field(e),
        parent_educates: !f.parent_educates.is_empty(),
        sources: EntrySource::ALL
            .iter()
            .filter(|s| **s != EntrySource::TrackingRun)
            .map(|s| (s.code(), s.label(), *s == source))
            .collect(),
        hidden,
        all: answers(f),
        returning,
        summary,
        errors,
    }
}

async fn first_page(caller: Result<Caller, ApiError>) -> Response {
    let Some(c) = signed_in(caller) else { return to_sign_in() };
    if !allows(c.actor.role, Permission::EditRegister) {
        return error_page(
            Layout::for_caller(&c, ""),
            &ServiceError::Forbidden("your role does not allow this").into(),
        );
    }
    render(&question_page(&c, &EntryForm::default(), Step::Child, Vec::new(), false), StatusCode::OK)
}

/// The problems the service's own rules find with the answers a page asks.
fn problems_on(f: &EntryForm, step: Step) -> Vec<FieldError> {
    let mut out: Vec<FieldError> = match validate(f.content(EntryContent::default()), chrono::Utc::now().date_naive()) {
        Ok(_) => Vec::new(),
        Err(errors) => errors.into_iter().filter(|e| Step::of(&e.field) == step).collect(),
    };
    if step == Step::Council
        && !f.source.is_empty()
        && !matches!(EntrySource::parse(&f.source), Some(s) if s != EntrySource::TrackingRun)
    {
        out.push(FieldError { field: "source".into(), message: "Choose how the council learnt of the child".into() });
    }
    for e in &mut out {
        if e.field.starts_with("parents") {
            e.field = "parent_name".into();
        }
    }
    out
}

async fn next_page(
    state: axum::extract::State<AppState>,
    caller: Result<Caller, ApiError>,
    form: Result<Form<EntryForm>, FormRejection>,
) -> Response {
    let (c, form) = match posted(caller, form) {
        Ok(v) => v,
        Err(page) => return *page,
    };
    if !allows(c.actor.role, Permission::EditRegister) {
        return error_page(
            Layout::for_caller(&c, ""),
            &ServiceError::Forbidden("your role does not allow this").into(),
        );
    }
    let returning = !form.returning.is_empty();
    let Some(step) = Step::parse(&form.step).or(form.step.is_empty().then_some(Step::Check)) else {
        return error_page(
            Layout::for_caller(&c, ""),
            &ApiError::bad_request("The form could not be read. Go back and try again."),
        );
    };
    let action = form.action.clone();
    if let Some(to) = action.strip_prefix("change-").and_then(Step::parse) {
        return render(&question_page(&c, &form, to, Vec::new(), true), StatusCode::OK);
    }
    if action == "back" {
        return render(&question_page(&c, &form, step.back(), Vec::new(), false), StatusCode::OK);
    }
    if step != Step::Check {
        let problems = problems_on(&form, step);
        if !problems.is_empty() {
            return render(&question_page(&c, &form, step, problems, returning), StatusCode::UNPROCESSABLE_ENTITY);
        }
        let to = if returning { Step::Check } else { step.next() };
        return render(&question_page(&c, &form, to, Vec::new(), false), StatusCode::OK);
    }
    // Saving: the whole entry, by the service.
    let source = match EntrySource::parse(&form.source) {
        Some(EntrySource::TrackingRun) => None,
        Some(s) => Some(s),
        None if form.source.is_empty() => Some(EntrySource::Hand),
        None => None,
    };
    let Some(source) = source else {
        let e = FieldError { field: "source".into(), message: "Choose how the council learnt of the child".into() };
        return render(&question_page(&c, &form, Step::Council, vec![e], true), StatusCode::UNPROCESSABLE_ENTITY);
    };
    let new = NewEntry { content: form.content(EntryContent::default()), source, child_id: None, restricted: None };
    let (a, reason) = (c.actor.clone(), form.reason.clone());
    match state.blocking(move |s| s.create_entry(&a, new, &reason)).await {
        Ok(v) => Redirect::to(&format!("/children/{}?done=created", v.entry.child_id)).into_response(),
        Err(e) if e.status() == StatusCode::UNPROCESSABLE_ENTITY || e.status() == StatusCode::CONFLICT => {
            let errors = form_errors(&e);
            // Back to the first page with a problem, with every problem of
            // that page; the rest are met again as the pages are answered.
            let first =
                Step::ALL.into_iter().find(|s| errors.iter().any(|x| Step::of(&x.field) == *s)).unwrap_or(Step::Check);
            let on_it: Vec<FieldError> = errors.into_iter().filter(|x| Step::of(&x.field) == first).collect();
            render(&question_page(&c, &form, first, on_it, first != Step::Check), e.status())
        }
        Err(e) => error_page(Layout::for_caller(&c, ""), &e),
    }
}
