//! Casework pages: a school tells the council about a deletion and sees
//! what became of its notices; a caseworker works the council's cases
//! (the list with deadlines, a case with its enquiries, naming a key
//! worker, closing). As in [`crate::pages`]: server-rendered, a POST then
//! a redirect, every form with the session's form token.

use askama::Template;
use axum::Router;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Path, Query};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use cnis_app::service::cases::{
    AssignCase, Case, CaseFilter, CaseView, CloseCase, CompleteTask, Handover, NOTICE_CSV_COLUMNS, NewEnquiry,
    NewHeStep, NewTask, NoticeSummary, NoticeUpload, OfferHandover, Referral, Scrutiny,
};
use cnis_app::service::entries::Page;
use cnis_app::service::{FieldError, Permission, ServiceError, allows};
use cnis_core::casework::{
    CaseOutcome, CaseSource, CaseStatus, DeletionNotice, DestinationKind, Enquiry, EnquiryKind, HeStage, HeStep,
    NoticeDestination, NoticeParent,
};
use cnis_core::records::{DeletionGround, Regulations};
use serde::Deserialize;

use crate::auth::Caller;
use crate::pages::{
    Field, Layout, Posted, error_page, field, form_errors, not_found_page, posted, render, signed_in, to_sign_in,
};
use crate::problem::ApiError;
use crate::state::AppState;

/// The casework page routes: (method, path).
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/notices"),
    ("GET", "/notices/new"),
    ("POST", "/notices/new"),
    ("GET", "/notices/upload"),
    ("POST", "/notices/upload"),
    ("GET", "/cases"),
    ("GET", "/cases/{id}"),
    ("POST", "/cases/{id}/enquiries"),
    ("POST", "/cases/{id}/key-worker"),
    ("POST", "/cases/{id}/close"),
    ("POST", "/cases/{id}/he-steps"),
    ("GET", "/referrals/new"),
    ("POST", "/cases/{id}/tasks"),
    ("POST", "/tasks/{id}/done"),
    ("POST", "/referrals/new"),
    ("GET", "/scrutiny"),
    ("POST", "/children/{child_id}/handover"),
    ("POST", "/children/{child_id}/care"),
    ("POST", "/handovers/{id}/acknowledge"),
];

/// The casework page routes.
pub fn routes() -> Router<AppState> {
    let mut r = Router::new();
    for (method, path) in ROUTES {
        let handler = match (*method, *path) {
            ("GET", "/notices") => get(notices),
            ("GET", "/notices/new") => get(notice_page),
            ("POST", "/notices/new") => post(submit_notice),
            ("GET", "/notices/upload") => get(upload_page),
            ("POST", "/notices/upload") => post(upload_notices),
            ("GET", "/cases") => get(cases),
            ("GET", "/cases/{id}") => get(case),
            ("POST", "/cases/{id}/enquiries") => post(enquiry),
            ("POST", "/cases/{id}/key-worker") => post(key_worker),
            ("POST", "/cases/{id}/close") => post(close),
            ("POST", "/cases/{id}/he-steps") => post(he_step),
            ("GET", "/referrals/new") => get(referral_page),
            ("POST", "/cases/{id}/tasks") => post(add_task),
            ("POST", "/tasks/{id}/done") => post(task_done),
            ("POST", "/referrals/new") => post(refer),
            ("GET", "/scrutiny") => get(scrutiny),
            ("POST", "/children/{child_id}/handover") => post(offer_handover),
            ("POST", "/children/{child_id}/care") => post(record_care),
            ("POST", "/handovers/{id}/acknowledge") => post(acknowledge_handover),
            _ => unreachable!("page route {method} {path} has no handler"),
        };
        r = r.route(path, handler);
    }
    r
}

/// A date asked for as day, month and year.
pub struct DateField {
    pub(crate) name: &'static str,
    pub(crate) legend: &'static str,
    pub(crate) hint: &'static str,
    pub(crate) day: String,
    pub(crate) month: String,
    pub(crate) year: String,
    pub(crate) error: Option<String>,
}

pub(crate) fn date_field(
    name: &'static str,
    legend: &'static str,
    hint: &'static str,
    value: &str,
    errors: &[FieldError],
) -> DateField {
    let mut parts = value.splitn(3, '-');
    let (year, month, day) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    DateField {
        name,
        legend,
        hint,
        day: day.to_string(),
        month: month.to_string(),
        year: year.to_string(),
        error: errors.iter().find(|e| e.field == name).map(|e| e.message.clone()),
    }
}

/// `YYYY-MM-DD` from three boxes (what was typed, when it is not a date,
/// so that the service names the field).
pub(crate) fn ymd(day: &str, month: &str, year: &str) -> String {
    match (day.trim().parse::<u32>(), month.trim().parse::<u32>(), year.trim().parse::<i32>()) {
        (Ok(d), Ok(m), Ok(y)) => format!("{y:04}-{m:02}-{d:02}"),
        _ => format!("{}-{}-{}", year.trim(), month.trim(), day.trim()),
    }
}

#[derive(Template)]
#[template(path = "notice_form.html")]
struct NoticePage {
    layout: Layout,
    errors: Vec<FieldError>,
    csrf: String,
    deletion_date: DateField,
    dob: DateField,
    child_fields: Vec<Field>,
    /// (stored form, words, chosen)
    grounds: Vec<(String, String, bool)>,
    ground_error: Option<String>,
    /// (code, words, chosen)
    destinations: Vec<(&'static str, &'static str, bool)>,
    destination_fields: Vec<Field>,
    parent_fields: Vec<Field>,
}

#[derive(Template)]
#[template(path = "notices.html")]
struct NoticesPage {
    layout: Layout,
    school: bool,
    page: Page<NoticeSummary>,
    banner: Option<String>,
}

#[derive(Template)]
#[template(path = "cases.html")]
struct CasesPage {
    layout: Layout,
    page: Page<Case>,
    overdue_only: bool,
    today: chrono::NaiveDate,
    /// Handovers to the council waiting for it, and from it waiting for another.
    incoming: Vec<Handover>,
    outgoing: Vec<Handover>,
    csrf: String,
    banner: Option<String>,
}

#[derive(Template)]
#[template(path = "case.html")]
struct CasePage {
    layout: Layout,
    view: CaseView,
    csrf: String,
    errors: Vec<FieldError>,
    banner: Option<String>,
    enquiry_kinds: Vec<(&'static str, &'static str)>,
    outcomes: Vec<(&'static str, &'static str)>,
    he_stages: Vec<(&'static str, &'static str)>,
    today: String,
    /// The key worker's name, if one is named.
    key_worker: Option<String>,
    /// Whether the signed-in user is the key worker.
    mine: bool,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct NoticeForm {
    csrf: String,
    deletion_date_day: String,
    deletion_date_month: String,
    deletion_date_year: String,
    ground: String,
    given_name: String,
    family_name: String,
    dob_day: String,
    dob_month: String,
    dob_year: String,
    upn: String,
    address: String,
    postcode: String,
    parent_name: String,
    parent_telephone: String,
    destination: String,
    destination_school: String,
    destination_council: String,
    notes: String,
    sen: String,
    absence_percent: String,
}

fn opt(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_string())
}

impl NoticeForm {
    fn notice(&self) -> DeletionNotice {
        let destination = DestinationKind::parse(self.destination.trim()).map(|kind| NoticeDestination {
            kind,
            school: opt(&self.destination_school),
            council: opt(&self.destination_council),
            address: None,
            start_date: None,
        });
        DeletionNotice {
            school: String::new(),
            deletion_date: ymd(&self.deletion_date_day, &self.deletion_date_month, &self.deletion_date_year),
            ground: self.ground.clone(),
            given_name: self.given_name.clone(),
            family_name: self.family_name.clone(),
            dob: ymd(&self.dob_day, &self.dob_month, &self.dob_year),
            sex: None,
            upn: opt(&self.upn),
            address: opt(&self.address),
            postcode: opt(&self.postcode),
            parents: opt(&self.parent_name)
                .map(|name| NoticeParent { name, address: None, telephone: opt(&self.parent_telephone) })
                .into_iter()
                .collect(),
            destination,
            notes: opt(&self.notes),
            sen: opt(&self.sen),
            // A number the service checks; text that is not one is sent as
            // an impossible value so that the field is named.
            absence_percent: opt(&self.absence_percent).map(|a| a.trim_end_matches('%').trim().parse().unwrap_or(-1.0)),
        }
    }
}

fn notice_page_for(c: &Caller, form: &NoticeForm, errors: Vec<FieldError>) -> NoticePage {
    let today = chrono::Utc::now().date_naive();
    let chosen_ground = form.ground.trim();
    let grounds = DeletionGround::all()
        .filter(|g| g.regulations() == Regulations::in_force_on(today))
        .map(|g| {
            let code = g.to_string();
            let chosen = code == chosen_ground;
            (code.clone(), format!("{code}: {}", g.meaning().describe()), chosen)
        })
        .collect();
    let deletion_date = ymd(&form.deletion_date_day, &form.deletion_date_month, &form.deletion_date_year);
    let dob = ymd(&form.dob_day, &form.dob_month, &form.dob_year);
    let destinations = [("", "Not given")]
        .into_iter()
        .chain(DestinationKind::ALL.iter().map(|d| (d.code(), d.label())))
        .map(|(code, label)| (code, label, code == form.destination.trim()))
        .collect();
    NoticePage {
        layout: Layout::for_caller(c, "/notices/new"),
        csrf: c.csrf().unwrap_or("").to_string(),
        deletion_date: date_field(
            "deletion_date",
            "Date the pupil's name was deleted",
            "For example, 27 11 2026",
            if deletion_date == "--" { "" } else { &deletion_date },
            &errors,
        ),
        dob: date_field("dob", "Date of birth", "For example, 14 3 2013", if dob == "--" { "" } else { &dob }, &errors),
        child_fields: vec![
            field("given_name", "Given name", None, &form.given_name, &errors),
            field("family_name", "Family name", None, &form.family_name, &errors),
            field(
                "upn",
                "Unique pupil number (UPN)",
                Some("13 characters, starting with a letter"),
                &form.upn,
                &errors,
            ),
            field("address", "Home address", None, &form.address, &errors),
            field("postcode", "Postcode", None, &form.postcode, &errors),
            field(
                "sen",
                "Special educational needs",
                Some("As the census records it: N none, K SEN support, E an EHC plan"),
                &form.sen,
                &errors,
            ),
            field(
                "absence_percent",
                "Absence last full term (%)",
                Some("Overall absence as a percentage of possible sessions"),
                &form.absence_percent,
                &errors,
            ),
        ],
        ground_error: errors.iter().find(|e| e.field == "ground").map(|e| e.message.clone()),
        grounds,
        destinations,
        destination_fields: vec![
            field(
                "destination_school",
                "The new school's LAESTAB number",
                Some("Seven digits, if the pupil is registered at another school"),
                &form.destination_school,
                &errors,
            ),
            field(
                "destination_council",
                "The new council's three-digit code",
                Some("If the pupil moved to another council's area"),
                &form.destination_council,
                &errors,
            ),
        ],
        parent_fields: vec![
            field("parent_name", "Name of a parent the pupil lives with", None, &form.parent_name, &errors),
            field("parent_telephone", "Their emergency telephone number", None, &form.parent_telephone, &errors),
        ],
        errors,
    }
}

/// The form's field for an API field name.
fn notice_field(api: &str) -> String {
    match api {
        "destination.school" => "destination_school".into(),
        "destination.council" => "destination_council".into(),
        f if f.starts_with("parents") && f.ends_with("telephone") => "parent_telephone".into(),
        f if f.starts_with("parents") => "parent_name".into(),
        f => f.into(),
    }
}

async fn notice_page(caller: Result<Caller, ApiError>) -> Response {
    let Some(c) = signed_in(caller) else { return to_sign_in() };
    if !allows(c.actor.role, Permission::SubmitNotices) {
        return error_page(
            Layout::for_caller(&c, ""),
            &ServiceError::Forbidden("your role does not allow this").into(),
        );
    }
    render(&notice_page_for(&c, &NoticeForm::default(), Vec::new()), StatusCode::OK)
}

async fn submit_notice(
    state: axum::extract::State<AppState>,
    caller: Result<Caller, ApiError>,
    form: Result<Form<NoticeForm>, FormRejection>,
) -> Response {
    let (c, form) = match posted(caller, form) {
        Ok(v) => v,
        Err(page) => return *page,
    };
    let (a, notice) = (c.actor.clone(), form.notice());
    match state.blocking(move |s| s.submit_notice(&a, notice)).await {
        Ok(r) => Redirect::to(&format!("/notices?sent={}", r.notice.id)).into_response(),
        Err(e) if e.status() == StatusCode::UNPROCESSABLE_ENTITY => {
            let errors = form_errors(&e)
                .into_iter()
                .map(|f| FieldError { field: notice_field(&f.field), message: f.message })
                .collect();
            render(&notice_page_for(&c, &form, errors), StatusCode::UNPROCESSABLE_ENTITY)
        }
        Err(e) => error_page(Layout::for_caller(&c, ""), &e),
    }
}

#[derive(Template)]
#[template(path = "notice_upload.html")]
struct UploadPage {
    layout: Layout,
    csrf: String,
    errors: Vec<FieldError>,
    result: Option<NoticeUpload>,
    optional_columns: Vec<&'static str>,
}

fn upload_page_for(c: &Caller, errors: Vec<FieldError>, result: Option<NoticeUpload>) -> UploadPage {
    let required = ["deletion_date", "ground", "given_name", "family_name", "dob"];
    UploadPage {
        layout: Layout::for_caller(c, "/notices/upload"),
        csrf: c.csrf().unwrap_or("").to_string(),
        errors,
        result,
        optional_columns: NOTICE_CSV_COLUMNS.iter().copied().filter(|c| !required.contains(c)).collect(),
    }
}

async fn upload_page(caller: Result<Caller, ApiError>) -> Response {
    let Some(c) = signed_in(caller) else { return to_sign_in() };
    if !allows(c.actor.role, Permission::SubmitNotices) {
        return error_page(
            Layout::for_caller(&c, ""),
            &ServiceError::Forbidden("your role does not allow this").into(),
        );
    }
    render(&upload_page_for(&c, Vec::new(), None), StatusCode::OK)
}

/// A CSV file's text: UTF-8 (with or without its byte-order mark), or, as
/// a spreadsheet on Windows saves "CSV", Windows-1252.
fn csv_text(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => encoding_rs::WINDOWS_1252.decode(bytes).0.into_owned(),
    }
}

async fn upload_notices(
    state: axum::extract::State<AppState>,
    caller: Result<Caller, ApiError>,
    form: Result<axum::extract::Multipart, axum::extract::multipart::MultipartRejection>,
) -> Response {
    let Some(c) = signed_in(caller) else { return to_sign_in() };
    let bad = |message: &str| error_page(Layout::for_caller(&c, ""), &ApiError::bad_request(message));
    let Ok(mut form) = form else { return bad("The form could not be read. Go back and try again.") };
    let (mut token, mut file) = (None, None);
    loop {
        match form.next_field().await {
            Ok(Some(f)) => match f.name() {
                Some("csrf") => token = f.text().await.ok(),
                Some("file") => match f.bytes().await {
                    Ok(b) => file = Some(b),
                    Err(_) => {
                        return bad(
                            "The file could not be read: it may be too large (the limit is 256 KB). Send it in parts.",
                        );
                    }
                },
                _ => {}
            },
            Ok(None) => break,
            Err(_) => {
                return bad("The file could not be read: it may be too large (the limit is 256 KB). Send it in parts.");
            }
        }
    }
    if let Err(e) = c.check_form(token.as_deref().unwrap_or("")) {
        return error_page(Layout::for_caller(&c, ""), &e);
    }
    let file = match file {
        Some(b) if !b.is_empty() => csv_text(&b),
        _ => {
            let e = FieldError { field: "file".into(), message: "Choose a CSV file to send".into() };
            return render(&upload_page_for(&c, vec![e], None), StatusCode::UNPROCESSABLE_ENTITY);
        }
    };
    let a = c.actor.clone();
    match state.blocking(move |s| s.submit_notices_csv(&a, &file)).await {
        Ok(r) => render(&upload_page_for(&c, Vec::new(), Some(r)), StatusCode::OK),
        Err(e) if e.status() == StatusCode::UNPROCESSABLE_ENTITY => {
            let errors =
                form_errors(&e).into_iter().map(|f| FieldError { field: "file".into(), message: f.message }).collect();
            render(&upload_page_for(&c, errors, None), StatusCode::UNPROCESSABLE_ENTITY)
        }
        Err(e) => error_page(Layout::for_caller(&c, ""), &e),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ListParams {
    page: Option<i64>,
    sent: Option<i64>,
    overdue: Option<bool>,
    done: Option<String>,
}

async fn notices(
    state: axum::extract::State<AppState>,
    caller: Result<Caller, ApiError>,
    q: Result<Query<ListParams>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Some(c) = signed_in(caller) else { return to_sign_in() };
    let q = q.map(|Query(q)| q).unwrap_or_default();
    let layout = Layout::for_caller(&c, "/notices");
    let (a, page) = (c.actor.clone(), q.page.unwrap_or(1));
    match state.blocking(move |s| s.notices(&a, page, 50)).await {
        Ok(page) => {
            let school = c.actor.role == cnis_core::register::Role::School;
            let banner = q.sent.map(|id| format!("Notice {id} sent to the council"));
            render(&NoticesPage { layout, school, page, banner }, StatusCode::OK)
        }
        Err(e) => error_page(layout, &e),
    }
}

async fn cases(
    state: axum::extract::State<AppState>,
    caller: Result<Caller, ApiError>,
    q: Result<Query<ListParams>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Some(c) = signed_in(caller) else { return to_sign_in() };
    let q = q.map(|Query(q)| q).unwrap_or_default();
    let layout = Layout::for_caller(&c, "/cases");
    let today = chrono::Utc::now().date_naive();
    let overdue_only = q.overdue.unwrap_or(false);
    let filter = CaseFilter {
        status: Some(CaseStatus::Open),
        due_before: overdue_only.then_some(today),
        ..CaseFilter::default()
    };
    let (a, page) = (c.actor.clone(), q.page.unwrap_or(1));
    let found = state.blocking(move |s| Ok((s.cases(&a, &filter, page, 100)?, s.handovers(&a)?))).await;
    match found {
        Ok((page, handovers)) => {
            let own = c.actor.council.map(|x| x.to_string()).unwrap_or_default();
            let (incoming, outgoing): (Vec<Handover>, Vec<Handover>) =
                handovers.into_iter().filter(|h| h.acknowledged_at.is_none()).partition(|h| h.to_council == own);
            let banner = q.done.as_deref().map(|d| match d {
                "acknowledged" => "Handover acknowledged: the child is on your register".to_string(),
                _ => "Handover offered".to_string(),
            });
            let csrf = c.csrf().unwrap_or("").to_string();
            render(&CasesPage { layout, page, overdue_only, today, incoming, outgoing, csrf, banner }, StatusCode::OK)
        }
        Err(e) => error_page(layout, &e),
    }
}

async fn case_page(
    state: &AppState,
    c: &Caller,
    id: i64,
    errors: Vec<FieldError>,
    banner: Option<String>,
    status: StatusCode,
) -> Response {
    let layout = Layout::for_caller(c, "/cases");
    let a = c.actor.clone();
    let found = state
        .blocking(move |s| {
            let view = s.case(&a, id)?;
            let worker = match view.case.key_worker {
                Some(k) => s.account_name(&a, k)?,
                None => None,
            };
            Ok((view, worker))
        })
        .await;
    match found {
        Ok((view, key_worker)) => {
            let mine = view.case.key_worker == Some(c.actor.user_id);
            let page = CasePage {
                layout,
                view,
                csrf: c.csrf().unwrap_or("").to_string(),
                errors,
                banner,
                enquiry_kinds: EnquiryKind::ALL.iter().map(|k| (k.code(), k.label())).collect(),
                outcomes: CaseOutcome::ALL.iter().map(|o| (o.code(), o.label())).collect(),
                he_stages: HeStage::ALL.iter().map(|o| (o.code(), o.label())).collect(),
                today: chrono::Utc::now().date_naive().to_string(),
                key_worker,
                mine,
            };
            render(&page, status)
        }
        Err(e) => error_page(layout, &e),
    }
}

async fn case(
    state: axum::extract::State<AppState>,
    caller: Result<Caller, ApiError>,
    id: Result<Path<i64>, axum::extract::rejection::PathRejection>,
    q: Result<Query<ListParams>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Some(c) = signed_in(caller) else { return to_sign_in() };
    let Ok(Path(id)) = id else { return not_found_page() };
    let banner = q.ok().and_then(|Query(q)| q.done).map(|d| match d.as_str() {
        "enquiry" => "Enquiry recorded".to_string(),
        "closed" => "Case closed".to_string(),
        "step" => "Step recorded".to_string(),
        "referral" => "Referral recorded".to_string(),
        "task" => "Task set".to_string(),
        "task_done" => "Task done".to_string(),
        _ => "Key worker changed".to_string(),
    });
    case_page(&state, &c, id, Vec::new(), banner, StatusCode::OK).await
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct EnquiryForm {
    csrf: String,
    version: String,
    kind: String,
    made_on: String,
    outcome: String,
    located: Option<String>,
}

async fn enquiry(
    state: axum::extract::State<AppState>,
    caller: Result<Caller, ApiError>,
    id: Result<Path<i64>, axum::extract::rejection::PathRejection>,
    form: Result<Form<EnquiryForm>, FormRejection>,
) -> Response {
    let (c, form) = match posted(caller, form) {
        Ok(v) => v,
        Err(page) => return *page,
    };
    let Ok(Path(id)) = id else { return not_found_page() };
    let Some(kind) = EnquiryKind::parse(form.kind.trim()) else {
        let errors = vec![FieldError { field: "kind".into(), message: "Choose who was asked".into() }];
        return case_page(&state, &c, id, errors, None, StatusCode::UNPROCESSABLE_ENTITY).await;
    };
    let new = NewEnquiry {
        version: form.version.trim().parse().unwrap_or(0),
        enquiry: Enquiry {
            kind,
            made_on: form.made_on.trim().to_string(),
            outcome: form.outcome.clone(),
            located: form.located.is_some(),
            recorded_by: 0,
        },
    };
    let a = c.actor.clone();
    match state.blocking(move |s| s.record_enquiry(&a, id, new)).await {
        Ok(_) => Redirect::to(&format!("/cases/{id}?done=enquiry")).into_response(),
        Err(e) if e.status() == StatusCode::UNPROCESSABLE_ENTITY => {
            let errors = form_errors(&e)
                .into_iter()
                .map(|f| FieldError { field: f.field.trim_start_matches("enquiry.").to_string(), message: f.message })
                .collect();
            case_page(&state, &c, id, errors, None, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(e) => error_page(Layout::for_caller(&c, ""), &e),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct KeyWorkerForm {
    csrf: String,
    version: String,
}

/// Makes the signed-in caseworker the key worker.
async fn key_worker(
    state: axum::extract::State<AppState>,
    caller: Result<Caller, ApiError>,
    id: Result<Path<i64>, axum::extract::rejection::PathRejection>,
    form: Result<Form<KeyWorkerForm>, FormRejection>,
) -> Response {
    let (c, form) = match posted(caller, form) {
        Ok(v) => v,
        Err(page) => return *page,
    };
    let Ok(Path(id)) = id else { return not_found_page() };
    let a = c.actor.clone();
    let assign = AssignCase { version: form.version.trim().parse().unwrap_or(0), key_worker: Some(a.user_id) };
    match state.blocking(move |s| s.assign_case(&a, id, assign)).await {
        Ok(_) => Redirect::to(&format!("/cases/{id}?done=key_worker")).into_response(),
        Err(e) => error_page(Layout::for_caller(&c, ""), &e),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct CloseForm {
    csrf: String,
    version: String,
    outcome: String,
    note: String,
}

async fn close(
    state: axum::extract::State<AppState>,
    caller: Result<Caller, ApiError>,
    id: Result<Path<i64>, axum::extract::rejection::PathRejection>,
    form: Result<Form<CloseForm>, FormRejection>,
) -> Response {
    let (c, form) = match posted(caller, form) {
        Ok(v) => v,
        Err(page) => return *page,
    };
    let Ok(Path(id)) = id else { return not_found_page() };
    let Some(outcome) = CaseOutcome::parse(form.outcome.trim()) else {
        let errors = vec![FieldError { field: "outcome".into(), message: "Choose how the case ended".into() }];
        return case_page(&state, &c, id, errors, None, StatusCode::UNPROCESSABLE_ENTITY).await;
    };
    let close = CloseCase {
        version: form.version.trim().parse().unwrap_or(0),
        outcome,
        located_on: None,
        note: form.note.clone(),
    };
    let a = c.actor.clone();
    match state.blocking(move |s| s.close_case(&a, id, close)).await {
        Ok(_) => Redirect::to(&format!("/cases/{id}?done=closed")).into_response(),
        Err(e) if e.status() == StatusCode::UNPROCESSABLE_ENTITY => {
            let errors = form_errors(&e)
                .into_iter()
                .map(|f| FieldError {
                    field: if f.field == "reason" { "note".into() } else { f.field },
                    message: f.message,
                })
                .collect();
            case_page(&state, &c, id, errors, None, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(e) => error_page(Layout::for_caller(&c, ""), &e),
    }
}

#[derive(Template)]
#[template(path = "scrutiny.html")]
struct ScrutinyPage {
    layout: Layout,
    /// Nothing until an inspector chooses a council.
    view: Option<Scrutiny>,
    council_name: String,
    /// Every council to choose from, for an inspector: (code, name, chosen).
    councils: Vec<(String, String, bool)>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ScrutinyParams {
    council: String,
    from: String,
    to: String,
}

async fn scrutiny(
    state: axum::extract::State<AppState>,
    caller: Result<Caller, ApiError>,
    q: Result<Query<ScrutinyParams>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Some(c) = signed_in(caller) else { return to_sign_in() };
    let q = q.map(|Query(q)| q).unwrap_or_default();
    let layout = Layout::for_caller(&c, "/scrutiny");
    let to = q.to.trim().parse().unwrap_or_else(|_| chrono::Utc::now().date_naive());
    let from = q.from.trim().parse().unwrap_or_else(|_| to.checked_sub_days(chrono::Days::new(365)).unwrap_or(to));
    let council = c.actor.council.or_else(|| cnis_core::LaCode::parse(q.council.trim()).ok());
    let councils = if c.actor.council.is_none() {
        let mut all: Vec<(String, String, bool)> =
            cnis_core::LaCode::live().map(|l| (l.to_string(), l.info().name.clone(), Some(l) == council)).collect();
        all.sort_by(|a, b| a.1.cmp(&b.1));
        all
    } else {
        Vec::new()
    };
    let council_name = council.map(|l| l.info().name.clone()).unwrap_or_default();
    let Some(chosen) = council else {
        if !allows(c.actor.role, Permission::ReadScrutiny) {
            return error_page(layout, &ServiceError::Forbidden("your role does not allow this").into());
        }
        return render(&ScrutinyPage { layout, view: None, council_name, councils }, StatusCode::OK);
    };
    let a = c.actor.clone();
    match state.blocking(move |s| s.deregistration_scrutiny(&a, Some(chosen), from, to)).await {
        Ok(view) => render(&ScrutinyPage { layout, view: Some(view), council_name, councils }, StatusCode::OK),
        Err(e) => error_page(layout, &e),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct CareForm {
    csrf: String,
    kind: String,
    care_start_day: String,
    care_start_month: String,
    care_start_year: String,
    care_end_day: String,
    care_end_month: String,
    care_end_year: String,
    risk_of_harm_at_home: Option<String>,
}

/// Records a social-care episode the council holds for a child, from the
/// child's page.
async fn record_care(
    state: axum::extract::State<AppState>,
    caller: Result<Caller, ApiError>,
    id: Result<Path<String>, axum::extract::rejection::PathRejection>,
    form: Result<Form<CareForm>, FormRejection>,
) -> Response {
    let (c, form) = match posted(caller, form) {
        Ok(v) => v,
        Err(page) => return *page,
    };
    let Ok(Path(child_id)) = id else { return not_found_page() };
    let mut errors = Vec::new();
    let kind = cnis_core::casework::CareKind::parse(form.kind.trim());
    if kind.is_none() {
        errors.push(FieldError { field: "kind".into(), message: "Choose what kind of involvement".into() });
    }
    let start = chrono::NaiveDate::parse_from_str(
        &ymd(&form.care_start_day, &form.care_start_month, &form.care_start_year),
        "%Y-%m-%d",
    );
    if start.is_err() {
        errors.push(FieldError {
            field: "care_start".into(),
            message: "Enter the date it began, as day, month and year".into(),
        });
    }
    let blank_end = [&form.care_end_day, &form.care_end_month, &form.care_end_year].iter().all(|v| v.trim().is_empty());
    let end = if blank_end {
        Ok(None)
    } else {
        chrono::NaiveDate::parse_from_str(
            &ymd(&form.care_end_day, &form.care_end_month, &form.care_end_year),
            "%Y-%m-%d",
        )
        .map(Some)
    };
    if end.is_err() {
        errors.push(FieldError {
            field: "care_end".into(),
            message: "Enter the date it ended as day, month and year, or leave it blank if it has not".into(),
        });
    }
    let (Some(kind), Ok(start), Ok(end)) = (kind, start, end) else {
        return error_page(Layout::for_caller(&c, ""), &ServiceError::Invalid(errors).into());
    };
    let episode = cnis_core::casework::CareEpisode {
        kind,
        start,
        end,
        risk_of_harm_at_home: form.risk_of_harm_at_home.is_some(),
    };
    let (a, child) = (c.actor.clone(), child_id.clone());
    match state.blocking(move |s| s.record_care(&a, &child, vec![episode])).await {
        Ok(()) => Redirect::to(&format!("/children/{child_id}?done=care#care")).into_response(),
        Err(e) => error_page(Layout::for_caller(&c, ""), &e),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct HandoverForm {
    csrf: String,
    to_council: String,
    reason: String,
}

async fn offer_handover(
    state: axum::extract::State<AppState>,
    caller: Result<Caller, ApiError>,
    id: Result<Path<String>, axum::extract::rejection::PathRejection>,
    form: Result<Form<HandoverForm>, FormRejection>,
) -> Response {
    let (c, form) = match posted(caller, form) {
        Ok(v) => v,
        Err(page) => return *page,
    };
    let Ok(Path(child_id)) = id else { return not_found_page() };
    let a = c.actor.clone();
    let offer = OfferHandover { child_id, to_council: form.to_council.clone(), reason: form.reason.clone() };
    match state.blocking(move |s| s.offer_handover(&a, offer)).await {
        Ok(_) => Redirect::to("/cases?done=offered").into_response(),
        Err(e) => error_page(Layout::for_caller(&c, ""), &e),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct AckForm {
    csrf: String,
}

async fn acknowledge_handover(
    state: axum::extract::State<AppState>,
    caller: Result<Caller, ApiError>,
    id: Result<Path<i64>, axum::extract::rejection::PathRejection>,
    form: Result<Form<AckForm>, FormRejection>,
) -> Response {
    let (c, _) = match posted(caller, form) {
        Ok(v) => v,
        Err(page) => return *page,
    };
    let Ok(Path(id)) = id else { return not_found_page() };
    let a = c.actor.clone();
    match state.blocking(move |s| s.acknowledge_handover(&a, id)).await {
        Ok(_) => Redirect::to("/cases?done=acknowledged").into_response(),
        Err(e) => error_page(Layout::for_caller(&c, ""), &e),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct HeStepForm {
    csrf: String,
    version: String,
    stage: String,
    on: String,
    note: String,
    document: String,
    satisfy_by: String,
    suitable: String,
    school: String,
}

async fn he_step(
    state: axum::extract::State<AppState>,
    caller: Result<Caller, ApiError>,
    id: Result<Path<i64>, axum::extract::rejection::PathRejection>,
    form: Result<Form<HeStepForm>, FormRejection>,
) -> Response {
    let (c, form) = match posted(caller, form) {
        Ok(v) => v,
        Err(page) => return *page,
    };
    let Ok(Path(id)) = id else { return not_found_page() };
    let day = |s: &str| chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok();
    let mut errors = Vec::new();
    let stage = HeStage::parse(form.stage.trim());
    if stage.is_none() {
        errors.push(FieldError { field: "stage".into(), message: "Choose the step".into() });
    }
    let on = day(&form.on);
    if on.is_none() {
        errors.push(FieldError { field: "on".into(), message: "Enter the date as YYYY-MM-DD".into() });
    }
    let satisfy_by = day(&form.satisfy_by);
    if satisfy_by.is_none() && !form.satisfy_by.trim().is_empty() {
        errors.push(FieldError { field: "satisfy_by".into(), message: "Enter the date as YYYY-MM-DD".into() });
    }
    let (Some(stage), Some(on), true) = (stage, on, errors.is_empty()) else {
        return case_page(&state, &c, id, errors, None, StatusCode::UNPROCESSABLE_ENTITY).await;
    };
    let step = HeStep {
        stage,
        on,
        note: form.note,
        document: Some(form.document),
        satisfy_by,
        suitable: match form.suitable.as_str() {
            "yes" => Some(true),
            "no" => Some(false),
            _ => None,
        },
        school: Some(form.school),
        recorded_by: 0,
    };
    let new = NewHeStep { version: form.version.trim().parse().unwrap_or(0), step };
    let a = c.actor.clone();
    match state.blocking(move |s| s.record_he_step(&a, id, new)).await {
        Ok(_) => Redirect::to(&format!("/cases/{id}?done=step")).into_response(),
        Err(e) if e.status() == StatusCode::UNPROCESSABLE_ENTITY => {
            let errors = form_errors(&e)
                .into_iter()
                .map(|f| FieldError { field: f.field.trim_start_matches("step.").to_string(), message: f.message })
                .collect();
            case_page(&state, &c, id, errors, None, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(e) => error_page(Layout::for_caller(&c, "/cases"), &e),
    }
}

#[derive(Template)]
#[template(path = "referral_form.html")]
struct ReferralPage {
    layout: Layout,
    errors: Vec<FieldError>,
    csrf: String,
    form: ReferralForm,
    sources: Vec<(&'static str, &'static str)>,
}

#[derive(Deserialize, Default, Clone)]
#[serde(default)]
struct ReferralForm {
    csrf: String,
    source: String,
    referrer: String,
    given_name: String,
    family_name: String,
    dob: String,
    upn: String,
    address: String,
    postcode: String,
    summary: String,
}

fn referral_sources() -> Vec<(&'static str, &'static str)> {
    [CaseSource::OtherAgency, CaseSource::Public, CaseSource::Parent].iter().map(|s| (s.code(), s.label())).collect()
}

async fn referral_page(caller: Result<Caller, ApiError>) -> Response {
    let Some(c) = signed_in(caller) else { return to_sign_in() };
    let layout = Layout::for_caller(&c, "/cases");
    if !allows(c.actor.role, Permission::WorkCases) {
        return error_page(layout, &ApiError::new(StatusCode::FORBIDDEN, "Your role does not take referrals."));
    }
    let csrf = c.csrf().unwrap_or("").to_string();
    let page =
        ReferralPage { layout, errors: Vec::new(), csrf, form: ReferralForm::default(), sources: referral_sources() };
    render(&page, StatusCode::OK)
}

async fn refer(
    state: axum::extract::State<AppState>,
    caller: Result<Caller, ApiError>,
    form: Result<Form<ReferralForm>, FormRejection>,
) -> Response {
    let (c, form) = match posted(caller, form) {
        Ok(v) => v,
        Err(page) => return *page,
    };
    let some = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
    let r = Referral {
        source: CaseSource::parse(form.source.trim()),
        referrer: form.referrer.clone(),
        given_name: form.given_name.clone(),
        family_name: form.family_name.clone(),
        dob: form.dob.clone(),
        upn: some(&form.upn),
        address: some(&form.address),
        postcode: some(&form.postcode),
        summary: form.summary.clone(),
    };
    let a = c.actor.clone();
    match state.blocking(move |s| s.refer_child(&a, r)).await {
        Ok(receipt) => Redirect::to(&format!("/cases/{}?done=referral", receipt.case_id)).into_response(),
        Err(e) if e.status() == StatusCode::UNPROCESSABLE_ENTITY => {
            let layout = Layout::for_caller(&c, "/cases");
            let csrf = c.csrf().unwrap_or("").to_string();
            let page = ReferralPage { layout, errors: form_errors(&e), csrf, form, sources: referral_sources() };
            render(&page, StatusCode::UNPROCESSABLE_ENTITY)
        }
        Err(e) => error_page(Layout::for_caller(&c, "/cases"), &e),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct TaskForm {
    csrf: String,
    title: String,
    due_on: String,
}

async fn add_task(
    state: axum::extract::State<AppState>,
    caller: Result<Caller, ApiError>,
    id: Result<Path<i64>, axum::extract::rejection::PathRejection>,
    form: Result<Form<TaskForm>, FormRejection>,
) -> Response {
    let (c, form) = match posted(caller, form) {
        Ok(v) => v,
        Err(page) => return *page,
    };
    let Ok(Path(id)) = id else { return not_found_page() };
    let t = NewTask { title: form.title, due_on: Some(form.due_on), assigned_to: None };
    let a = c.actor.clone();
    match state.blocking(move |s| s.add_task(&a, id, t)).await {
        Ok(_) => Redirect::to(&format!("/cases/{id}?done=task")).into_response(),
        Err(e) if e.status() == StatusCode::UNPROCESSABLE_ENTITY => {
            case_page(&state, &c, id, form_errors(&e), None, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(e) => error_page(Layout::for_caller(&c, "/cases"), &e),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct TaskDoneForm {
    csrf: String,
    note: String,
}

async fn task_done(
    state: axum::extract::State<AppState>,
    caller: Result<Caller, ApiError>,
    id: Result<Path<i64>, axum::extract::rejection::PathRejection>,
    form: Result<Form<TaskDoneForm>, FormRejection>,
) -> Response {
    let (c, form) = match posted(caller, form) {
        Ok(v) => v,
        Err(page) => return *page,
    };
    let Ok(Path(id)) = id else { return not_found_page() };
    let a = c.actor.clone();
    match state.blocking(move |s| s.complete_task(&a, id, CompleteTask { note: form.note })).await {
        Ok(t) => Redirect::to(&format!("/cases/{}?done=task_done", t.case_id)).into_response(),
        Err(e) => error_page(Layout::for_caller(&c, "/cases"), &e),
    }
}

/// A date as "20 January 2023", for templates.
pub fn day(d: &chrono::NaiveDate) -> String {
    d.format("%-d %B %Y").to_string()
}

/// Whether `d` is before `today`, for templates.
pub fn before(d: &chrono::NaiveDate, today: &chrono::NaiveDate) -> bool {
    d < today
}

crate::pages::posted_forms!(
    CareForm,
    NoticeForm,
    EnquiryForm,
    KeyWorkerForm,
    CloseForm,
    HandoverForm,
    AckForm,
    HeStepForm,
    ReferralForm,
    TaskForm,
    TaskDoneForm
);
