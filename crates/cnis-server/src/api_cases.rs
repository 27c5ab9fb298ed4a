//! The JSON API for casework: schools' deletion notices, the council's
//! missing-education and home-education cases, and term dates. As in
//! [`crate::api`], each handler reads its input and calls one use case;
//! access, scope and audit are the use case's business.

use axum::Json;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use cnis_app::service::cases::{
    AbsenceReceipt, AbsenceReport, AssignCase, CalendarSummary, Case, CaseFilter, CaseView, CloseCase, CompleteTask,
    ConsentAnswer, ConsentAsk, ConsentDecision, ConsentRequest, Handover, NewEnquiry, NewHeStep, NewTask,
    NoticeSummary, NoticeUpload, OfferHandover, OutboxMessage, Referral, ReferralReceipt, Scrutiny, Task,
};
use cnis_app::service::entries::Page;
use cnis_app::service::{FieldError, ServiceError};
use cnis_core::casework::CareEpisode;
use cnis_core::casework::{CaseKind, CaseStatus, DeletionNotice};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::{Body, path_id, query};
use crate::auth::Caller;
use crate::problem::{ApiError, Problem};
use crate::state::AppState;

/// A page of a list.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// Page, from 1.
    pub page: Option<i64>,
    /// Items a page (at most 200).
    pub per_page: Option<i64>,
}

/// Which cases.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct CaseQuery {
    /// Open or closed.
    pub status: Option<CaseStatus>,
    /// Missing education or home education.
    pub kind: Option<CaseKind>,
    /// Only open cases past their deadline today.
    pub overdue: Option<bool>,
    /// Only the caller's own (as key worker).
    pub mine: Option<bool>,
    /// Page, from 1.
    pub page: Option<i64>,
    /// Items a page (at most 200).
    pub per_page: Option<i64>,
}

/// Whose term dates.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct CalendarQuery {
    /// A school's LAESTAB, for its own dates; the council's when left out.
    pub school: Option<String>,
}

/// Term dates to load.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CalendarRequest {
    /// A school's LAESTAB, for its own dates; the council's when left out.
    #[serde(default)]
    pub school: Option<String>,
    /// The calendar file's text: a header `kind,start,end,description`,
    /// then `term` and `closure` lines with dates as `YYYY-MM-DD`.
    pub csv: String,
}

/// Term dates as loaded.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CalendarResponse {
    /// In brief.
    pub summary: CalendarSummary,
    /// The file's text, as it would be loaded again.
    pub csv: String,
}

/// Tell the council that the school deleted a pupil from its admission
/// register (schools, for their own school). Matched to the child and, on
/// a ground that leaves the child's education unknown or on the
/// home-education ground, opens a case. Audited.
#[utoipa::path(post, path = "/api/v1/notices", tag = "casework", request_body = DeletionNotice, responses(
    (status = 201, body = NoticeSummary), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"),
    (status = 403, body = Problem, content_type = "application/problem+json"), (status = 415, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("session" = []), ("bearer" = [])))]
pub async fn submit_notice(
    state: axum::extract::State<AppState>,
    caller: Caller,
    Body(notice): Body<DeletionNotice>,
) -> Result<(StatusCode, Json<NoticeSummary>), ApiError> {
    let receipt = state.blocking(move |s| s.submit_notice(&caller.actor, notice)).await?;
    Ok((StatusCode::CREATED, Json(receipt.for_school())))
}

/// Notices: a school's own and what became of them (no child ids), or the
/// council's. Audited.
#[utoipa::path(get, path = "/api/v1/notices", tag = "casework", params(PageQuery), responses(
    (status = 200, body = Page<NoticeSummary>), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"),
    (status = 403, body = Problem, content_type = "application/problem+json")), security(("session" = []), ("bearer" = [])))]
pub async fn notices(
    state: axum::extract::State<AppState>,
    caller: Caller,
    q: Result<Query<PageQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Page<NoticeSummary>>, ApiError> {
    let q = query(q)?;
    let (page, per_page) = (q.page.unwrap_or(1), q.per_page.unwrap_or(50));
    Ok(Json(state.blocking(move |s| s.notices(&caller.actor, page, per_page)).await?))
}

/// The council's cases, soonest deadline first. Audited.
#[utoipa::path(get, path = "/api/v1/cases", tag = "casework", params(CaseQuery), responses(
    (status = 200, body = Page<Case>), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"),
    (status = 403, body = Problem, content_type = "application/problem+json")), security(("session" = []), ("bearer" = [])))]
pub async fn cases(
    state: axum::extract::State<AppState>,
    caller: Caller,
    q: Result<Query<CaseQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Page<Case>>, ApiError> {
    let q = query(q)?;
    let (page, per_page) = (q.page.unwrap_or(1), q.per_page.unwrap_or(50));
    let filter = CaseFilter {
        status: q.status,
        kind: q.kind,
        due_before: q.overdue.unwrap_or(false).then(|| chrono::Utc::now().date_naive()),
        key_worker: q.mine.unwrap_or(false).then_some(caller.actor.user_id),
    };
    Ok(Json(state.blocking(move |s| s.cases(&caller.actor, &filter, page, per_page)).await?))
}

/// A case with its history. Audited.
#[utoipa::path(get, path = "/api/v1/cases/{id}", tag = "casework", params(("id" = i64, Path, description = "Case id")),
    responses((status = 200, body = CaseView), (status = 401, body = Problem, content_type = "application/problem+json"),
    (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("session" = []), ("bearer" = [])))]
pub async fn case(
    state: axum::extract::State<AppState>,
    caller: Caller,
    id: Result<Path<i64>, axum::extract::rejection::PathRejection>,
) -> Result<Json<CaseView>, ApiError> {
    let id = path_id(id)?;
    Ok(Json(state.blocking(move |s| s.case(&caller.actor, id)).await?))
}

/// Record an enquiry made in an open case, from the version seen.
#[utoipa::path(post, path = "/api/v1/cases/{id}/enquiries", tag = "casework", params(("id" = i64, Path, description = "Case id")),
    request_body = NewEnquiry, responses((status = 200, body = Case), (status = 400, body = Problem, content_type = "application/problem+json"),
    (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"), (status = 409, body = Problem, content_type = "application/problem+json"),
    (status = 415, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("session" = []), ("bearer" = [])))]
pub async fn record_enquiry(
    state: axum::extract::State<AppState>,
    caller: Caller,
    id: Result<Path<i64>, axum::extract::rejection::PathRejection>,
    Body(req): Body<NewEnquiry>,
) -> Result<Json<Case>, ApiError> {
    let id = path_id(id)?;
    Ok(Json(state.blocking(move |s| s.record_enquiry(&caller.actor, id, req)).await?))
}

/// Name or clear a case's key worker, from the version seen.
#[utoipa::path(put, path = "/api/v1/cases/{id}/key-worker", tag = "casework", params(("id" = i64, Path, description = "Case id")),
    request_body = AssignCase, responses((status = 200, body = Case), (status = 400, body = Problem, content_type = "application/problem+json"),
    (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"), (status = 409, body = Problem, content_type = "application/problem+json"),
    (status = 415, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("session" = []), ("bearer" = [])))]
pub async fn assign_case(
    state: axum::extract::State<AppState>,
    caller: Caller,
    id: Result<Path<i64>, axum::extract::rejection::PathRejection>,
    Body(req): Body<AssignCase>,
) -> Result<Json<Case>, ApiError> {
    let id = path_id(id)?;
    Ok(Json(state.blocking(move |s| s.assign_case(&caller.actor, id, req)).await?))
}

/// Close a case with its outcome, from the version seen.
#[utoipa::path(post, path = "/api/v1/cases/{id}/close", tag = "casework", params(("id" = i64, Path, description = "Case id")),
    request_body = CloseCase, responses((status = 200, body = Case), (status = 400, body = Problem, content_type = "application/problem+json"),
    (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"), (status = 409, body = Problem, content_type = "application/problem+json"),
    (status = 415, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("session" = []), ("bearer" = [])))]
pub async fn close_case(
    state: axum::extract::State<AppState>,
    caller: Caller,
    id: Result<Path<i64>, axum::extract::rejection::PathRejection>,
    Body(req): Body<CloseCase>,
) -> Result<Json<Case>, ApiError> {
    let id = path_id(id)?;
    Ok(Json(state.blocking(move |s| s.close_case(&caller.actor, id, req)).await?))
}

/// Record a step of a home-education case (notification, enquiries, home
/// visit request, assessment, notice to satisfy, notice of intended school,
/// order, revocation) in the law's order and periods, from the version seen.
#[utoipa::path(post, path = "/api/v1/cases/{id}/he-steps", tag = "casework", params(("id" = i64, Path, description = "Case id")),
    request_body = NewHeStep, responses((status = 200, body = Case), (status = 400, body = Problem, content_type = "application/problem+json"),
    (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"), (status = 409, body = Problem, content_type = "application/problem+json"),
    (status = 415, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("session" = []), ("bearer" = [])))]
pub async fn record_he_step(
    state: axum::extract::State<AppState>,
    caller: Caller,
    id: Result<Path<i64>, axum::extract::rejection::PathRejection>,
    Body(req): Body<NewHeStep>,
) -> Result<Json<Case>, ApiError> {
    let id = path_id(id)?;
    Ok(Json(state.blocking(move |s| s.record_he_step(&caller.actor, id, req)).await?))
}

/// Take a referral of a child who may be missing education, from another
/// agency, a member of the public or a parent: the child is matched, a
/// missing-education case opens (or their open one takes it), and a child
/// not on the register is put on it as a draft. Audited.
#[utoipa::path(post, path = "/api/v1/referrals", tag = "casework", request_body = Referral, responses(
    (status = 201, body = ReferralReceipt), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"),
    (status = 403, body = Problem, content_type = "application/problem+json"), (status = 415, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("session" = []), ("bearer" = [])))]
pub async fn refer_child(
    state: axum::extract::State<AppState>,
    caller: Caller,
    Body(r): Body<Referral>,
) -> Result<(StatusCode, Json<ReferralReceipt>), ApiError> {
    Ok((StatusCode::CREATED, Json(state.blocking(move |s| s.refer_child(&caller.actor, r)).await?)))
}

/// Set a task on an open case: what, by when, and for whom (the key
/// worker when left out); the person is told through the outbox. Audited.
#[utoipa::path(post, path = "/api/v1/cases/{id}/tasks", tag = "casework", params(("id" = i64, Path, description = "Case id")),
    request_body = NewTask, responses((status = 201, body = Task), (status = 400, body = Problem, content_type = "application/problem+json"),
    (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"), (status = 409, body = Problem, content_type = "application/problem+json"),
    (status = 415, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("session" = []), ("bearer" = [])))]
pub async fn add_task(
    state: axum::extract::State<AppState>,
    caller: Caller,
    id: Result<Path<i64>, axum::extract::rejection::PathRejection>,
    Body(t): Body<NewTask>,
) -> Result<(StatusCode, Json<Task>), ApiError> {
    let id = path_id(id)?;
    Ok((StatusCode::CREATED, Json(state.blocking(move |s| s.add_task(&caller.actor, id, t)).await?)))
}

/// Mark a task done, with what was done. Audited.
#[utoipa::path(post, path = "/api/v1/tasks/{id}/done", tag = "casework", params(("id" = i64, Path, description = "Task id")),
    request_body = CompleteTask, responses((status = 200, body = Task), (status = 400, body = Problem, content_type = "application/problem+json"),
    (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"), (status = 409, body = Problem, content_type = "application/problem+json"),
    (status = 415, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("session" = []), ("bearer" = [])))]
pub async fn complete_task(
    state: axum::extract::State<AppState>,
    caller: Caller,
    id: Result<Path<i64>, axum::extract::rejection::PathRejection>,
    Body(done): Body<CompleteTask>,
) -> Result<Json<Task>, ApiError> {
    let id = path_id(id)?;
    Ok(Json(state.blocking(move |s| s.complete_task(&caller.actor, id, done)).await?))
}

/// The caller's open tasks, soonest first. Audited.
#[utoipa::path(get, path = "/api/v1/tasks", tag = "casework", responses(
    (status = 200, body = Vec<Task>), (status = 401, body = Problem, content_type = "application/problem+json"),
    (status = 403, body = Problem, content_type = "application/problem+json")), security(("session" = []), ("bearer" = [])))]
pub async fn my_tasks(state: axum::extract::State<AppState>, caller: Caller) -> Result<Json<Vec<Task>>, ApiError> {
    Ok(Json(state.blocking(move |s| s.my_tasks(&caller.actor)).await?))
}

/// The term dates that count for the council, or one of its schools.
#[utoipa::path(get, path = "/api/v1/calendar", tag = "casework", params(CalendarQuery), responses(
    (status = 200, body = CalendarResponse), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"),
    (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("session" = []), ("bearer" = [])))]
pub async fn calendar(
    state: axum::extract::State<AppState>,
    caller: Caller,
    q: Result<Query<CalendarQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<CalendarResponse>, ApiError> {
    let q = query(q)?;
    let found = state.blocking(move |s| s.calendar(&caller.actor, q.school.as_deref())).await?;
    let (summary, cal) = found
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "No term dates are loaded for that council or school."))?;
    Ok(Json(CalendarResponse { summary, csv: cal.to_csv() }))
}

/// Load term dates (team managers and council administrators). Audited.
#[utoipa::path(put, path = "/api/v1/calendar", tag = "casework", request_body = CalendarRequest, responses(
    (status = 200, body = CalendarSummary), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"),
    (status = 403, body = Problem, content_type = "application/problem+json"), (status = 415, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("session" = []), ("bearer" = [])))]
pub async fn set_calendar(
    state: axum::extract::State<AppState>,
    caller: Caller,
    Body(req): Body<CalendarRequest>,
) -> Result<Json<CalendarSummary>, ApiError> {
    Ok(Json(state.blocking(move |s| s.set_calendar(&caller.actor, req.school.as_deref(), &req.csv)).await?))
}

/// Which outbox messages.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct OutboxQuery {
    /// Only those not yet marked sent.
    pub unsent: Option<bool>,
}

/// Ask whether a pupil is a relevant child, whose withdrawal to home
/// education needs the council's consent (schools). Audited.
#[utoipa::path(post, path = "/api/v1/consent-requests", tag = "casework", request_body = ConsentAsk, responses(
    (status = 201, body = ConsentAnswer), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"),
    (status = 403, body = Problem, content_type = "application/problem+json"), (status = 415, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("session" = []), ("bearer" = [])))]
pub async fn ask_consent(
    state: axum::extract::State<AppState>,
    caller: Caller,
    Body(ask): Body<ConsentAsk>,
) -> Result<(StatusCode, Json<ConsentAnswer>), ApiError> {
    Ok((StatusCode::CREATED, Json(state.blocking(move |s| s.ask_consent(&caller.actor, ask)).await?)))
}

/// The council's consent requests, with why each child is relevant. Audited.
#[utoipa::path(get, path = "/api/v1/consent-requests", tag = "casework", responses(
    (status = 200, body = Vec<ConsentRequest>), (status = 401, body = Problem, content_type = "application/problem+json"),
    (status = 403, body = Problem, content_type = "application/problem+json")), security(("session" = []), ("bearer" = [])))]
pub async fn consent_requests(
    state: axum::extract::State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<ConsentRequest>>, ApiError> {
    Ok(Json(state.blocking(move |s| s.consent_requests(&caller.actor)).await?))
}

/// A school's questions and the council's answers.
#[utoipa::path(get, path = "/api/v1/school/consent-requests", tag = "casework", responses(
    (status = 200, body = Vec<ConsentAnswer>), (status = 401, body = Problem, content_type = "application/problem+json"),
    (status = 403, body = Problem, content_type = "application/problem+json")), security(("session" = []), ("bearer" = [])))]
pub async fn consent_answers(
    state: axum::extract::State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<ConsentAnswer>>, ApiError> {
    Ok(Json(state.blocking(move |s| s.consent_answers(&caller.actor)).await?))
}

/// Decide a relevant child's request, with reasons (team managers); the
/// school and the parents are sent the decision. Audited.
#[utoipa::path(post, path = "/api/v1/consent-requests/{id}/decision", tag = "casework", params(("id" = i64, Path, description = "Request id")),
    request_body = ConsentDecision, responses((status = 200, body = ConsentRequest), (status = 400, body = Problem, content_type = "application/problem+json"),
    (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"), (status = 409, body = Problem, content_type = "application/problem+json"),
    (status = 415, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("session" = []), ("bearer" = [])))]
pub async fn decide_consent(
    state: axum::extract::State<AppState>,
    caller: Caller,
    id: Result<Path<i64>, axum::extract::rejection::PathRejection>,
    Body(decision): Body<ConsentDecision>,
) -> Result<Json<ConsentRequest>, ApiError> {
    let id = path_id(id)?;
    Ok(Json(state.blocking(move |s| s.decide_consent(&caller.actor, id, decision)).await?))
}

/// Record social-care episodes the council holds for a child on its
/// register, for the consent rule and the risk flag. Audited.
#[utoipa::path(post, path = "/api/v1/children/{child_id}/care", tag = "casework",
    params(("child_id" = String, Path, description = "cnis child id")), request_body = Vec<CareEpisode>, responses(
    (status = 204), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"),
    (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 415, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("session" = []), ("bearer" = [])))]
pub async fn record_care(
    state: axum::extract::State<AppState>,
    caller: Caller,
    id: Result<Path<String>, axum::extract::rejection::PathRejection>,
    Body(episodes): Body<Vec<CareEpisode>>,
) -> Result<StatusCode, ApiError> {
    let id = id.map(|Path(v)| v).map_err(|_| ApiError::new(StatusCode::NOT_FOUND, "No such child."))?;
    state.blocking(move |s| s.record_care(&caller.actor, &id, episodes)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The council's outbox: messages for its mail or messaging system to
/// send (team managers and council administrators). Audited.
#[utoipa::path(get, path = "/api/v1/outbox", tag = "casework", params(OutboxQuery), responses(
    (status = 200, body = Vec<OutboxMessage>), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"),
    (status = 403, body = Problem, content_type = "application/problem+json")), security(("session" = []), ("bearer" = [])))]
pub async fn outbox(
    state: axum::extract::State<AppState>,
    caller: Caller,
    q: Result<Query<OutboxQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<OutboxMessage>>, ApiError> {
    let unsent = query(q)?.unsent.unwrap_or(false);
    Ok(Json(state.blocking(move |s| s.outbox(&caller.actor, unsent)).await?))
}

/// Report a pupil absent without explanation for 10 school days or more
/// (schools): the council's missing-education case opens, due on the 20th
/// school day of the absence. Audited.
#[utoipa::path(post, path = "/api/v1/absence-reports", tag = "casework", request_body = AbsenceReport, responses(
    (status = 201, body = AbsenceReceipt), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"),
    (status = 403, body = Problem, content_type = "application/problem+json"), (status = 415, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("session" = []), ("bearer" = [])))]
pub async fn report_absence(
    state: axum::extract::State<AppState>,
    caller: Caller,
    Body(report): Body<AbsenceReport>,
) -> Result<(StatusCode, Json<AbsenceReceipt>), ApiError> {
    Ok((StatusCode::CREATED, Json(state.blocking(move |s| s.report_absence(&caller.actor, report)).await?)))
}

/// A notices file.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoticesFile {
    /// The CSV file's text: a header naming the columns (`deletion_date`,
    /// `ground`, `given_name`, `family_name`, `dob` required; `sex`, `upn`,
    /// `address`, `postcode`, `parent_name`, `parent_telephone`,
    /// `destination`, `destination_school`, `destination_council`, `notes`),
    /// then a notice a line.
    pub csv: String,
}

/// Send several notices as a CSV file (schools). Each row is a notice of
/// its own; a row refused is reported with its line, column and reason,
/// and the rest are taken. Audited, a row at a time.
#[utoipa::path(post, path = "/api/v1/notices/upload", tag = "casework", request_body = NoticesFile, responses(
    (status = 200, body = NoticeUpload), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"),
    (status = 403, body = Problem, content_type = "application/problem+json"), (status = 415, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("session" = []), ("bearer" = [])))]
pub async fn upload_notices(
    state: axum::extract::State<AppState>,
    caller: Caller,
    Body(file): Body<NoticesFile>,
) -> Result<Json<NoticeUpload>, ApiError> {
    Ok(Json(state.blocking(move |s| s.submit_notices_csv(&caller.actor, &file.csv)).await?))
}

/// A period.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PeriodQuery {
    /// First deletion date (`YYYY-MM-DD`); a year before `to` if left out.
    pub from: Option<chrono::NaiveDate>,
    /// Last deletion date (`YYYY-MM-DD`); today if left out.
    pub to: Option<chrono::NaiveDate>,
    /// The council's three-digit code: an inspector's choice; a council's
    /// own staff may leave it out.
    pub council: Option<String>,
}

/// The deregistration scrutiny view: each of a council's schools'
/// deletions over a period, by ground, and how many were of children with
/// SEN, a child protection plan, or persistent or severe absence. A
/// council's caseworkers see their own council; an inspector any. Counts
/// only. Audited.
#[utoipa::path(get, path = "/api/v1/scrutiny", tag = "casework", params(PeriodQuery), responses(
    (status = 200, body = Scrutiny), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"),
    (status = 403, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("session" = []), ("bearer" = [])))]
pub async fn scrutiny(
    state: axum::extract::State<AppState>,
    caller: Caller,
    q: Result<Query<PeriodQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Scrutiny>, ApiError> {
    let q = query(q)?;
    let to = q.to.unwrap_or_else(|| chrono::Utc::now().date_naive());
    let from = q.from.unwrap_or_else(|| to.checked_sub_days(chrono::Days::new(365)).unwrap_or(to));
    let council = match q.council.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
        None => None,
        Some(c) => Some(cnis_core::LaCode::parse(c).map_err(|_| {
            ApiError::from(ServiceError::Invalid(vec![FieldError {
                field: "council".into(),
                message: "Give the council's three-digit code".into(),
            }]))
        })?),
    };
    Ok(Json(state.blocking(move |s| s.deregistration_scrutiny(&caller.actor, council, from, to)).await?))
}

/// Offer a child's register entry and open case to the council their
/// address moved to. Audited.
#[utoipa::path(post, path = "/api/v1/handovers", tag = "casework", request_body = OfferHandover, responses(
    (status = 201, body = Handover), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"),
    (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, body = Problem, content_type = "application/problem+json"), (status = 415, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("session" = []), ("bearer" = [])))]
pub async fn offer_handover(
    state: axum::extract::State<AppState>,
    caller: Caller,
    Body(offer): Body<OfferHandover>,
) -> Result<(StatusCode, Json<Handover>), ApiError> {
    Ok((StatusCode::CREATED, Json(state.blocking(move |s| s.offer_handover(&caller.actor, offer)).await?)))
}

/// Handovers to and from the council. Audited.
#[utoipa::path(get, path = "/api/v1/handovers", tag = "casework", responses(
    (status = 200, body = Vec<Handover>), (status = 401, body = Problem, content_type = "application/problem+json"),
    (status = 403, body = Problem, content_type = "application/problem+json")), security(("session" = []), ("bearer" = [])))]
pub async fn handovers(state: axum::extract::State<AppState>, caller: Caller) -> Result<Json<Vec<Handover>>, ApiError> {
    Ok(Json(state.blocking(move |s| s.handovers(&caller.actor)).await?))
}

/// Acknowledge a handover to the council: the child comes onto its
/// register and the case to it. Audited.
#[utoipa::path(post, path = "/api/v1/handovers/{id}/acknowledge", tag = "casework", params(("id" = i64, Path, description = "Handover id")),
    responses((status = 200, body = Handover), (status = 401, body = Problem, content_type = "application/problem+json"),
    (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, body = Problem, content_type = "application/problem+json")), security(("session" = []), ("bearer" = [])))]
pub async fn acknowledge_handover(
    state: axum::extract::State<AppState>,
    caller: Caller,
    id: Result<Path<i64>, axum::extract::rejection::PathRejection>,
) -> Result<Json<Handover>, ApiError> {
    let id = path_id(id)?;
    Ok(Json(state.blocking(move |s| s.acknowledge_handover(&caller.actor, id)).await?))
}

/// The casework routes, with their OpenAPI paths.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(submit_notice, notices))
        .routes(routes!(cases))
        .routes(routes!(case))
        .routes(routes!(record_enquiry))
        .routes(routes!(assign_case))
        .routes(routes!(close_case))
        .routes(routes!(record_he_step))
        .routes(routes!(refer_child))
        .routes(routes!(add_task))
        .routes(routes!(complete_task))
        .routes(routes!(my_tasks))
        .routes(routes!(calendar, set_calendar))
        .routes(routes!(ask_consent, consent_requests))
        .routes(routes!(consent_answers))
        .routes(routes!(decide_consent))
        .routes(routes!(record_care))
        .routes(routes!(outbox))
        .routes(routes!(report_absence))
        .routes(routes!(upload_notices))
        .routes(routes!(scrutiny))
        .routes(routes!(offer_handover, handovers))
        .routes(routes!(acknowledge_handover))
}
