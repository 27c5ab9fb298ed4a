//! The JSON API, version 1. Each handler reads its input, calls one
//! use case of `cnis_app::service` on the blocking pool, and returns what
//! it returned; access, scope and audit are the use case's business. The
//! OpenAPI document is generated from these annotations.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, FromRequest, Path, Query, Request};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use cnis_app::service::audit::SubjectAccessExport;
use cnis_app::service::entries::{ChildView, Dashboard, EntryView, ImportReport, NewEntry, Page, StatusCount};
use cnis_app::service::{ChainRow, LookupCandidate, LookupRequest, NewAccount, SearchHit, SearchRequest};
use cnis_core::register::{EntryContent, EntrySource, EntryStatus, LeaveReason, RestrictedContent, Role};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{Caller, SESSION_COOKIE, Via};
use crate::problem::{ApiError, Problem};
use crate::state::AppState;

/// A JSON body whose faults are answered as problem details naming the
/// field, never echoing the value sent.
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(Body(v)),
            Err(rej) => Err(json_problem(&rej)),
        }
    }
}

fn json_problem(rej: &JsonRejection) -> ApiError {
    match rej {
        JsonRejection::JsonDataError(_) => {
            let text = rej.body_text();
            let rest = text.split_once("target type: ").map_or(text.as_str(), |(_, r)| r);
            // `path: what is wrong ...`; the value sent is left out.
            let (path, what) = rest.split_once(": ").unwrap_or(("", rest));
            let what = if what.starts_with("unknown field") || what.starts_with("missing field") {
                what.split(", expected").next().unwrap_or(what).to_string()
            } else {
                "wrong type or value".to_string()
            };
            let place = if path.is_empty() || path.contains(' ') { String::new() } else { format!(" at `{path}`") };
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!(
                    "The request body does not fit this operation{place}: {what}. The OpenAPI document at /api/openapi.json gives every field."
                ),
            )
        }
        JsonRejection::JsonSyntaxError(_) => ApiError::bad_request("The request body is not valid JSON."),
        JsonRejection::MissingJsonContentType(_) => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Send the request body as JSON with the header Content-Type: application/json.",
        ),
        _ => ApiError::bad_request("The request body could not be read."),
    }
}

/// The signed-in user.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Me {
    /// Account id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// Council code.
    pub council: Option<String>,
    /// Council name.
    pub council_name: Option<String>,
    /// School (LAESTAB).
    pub school: Option<String>,
}

impl From<&cnis_app::service::Actor> for Me {
    fn from(a: &cnis_app::service::Actor) -> Me {
        Me {
            id: a.user_id,
            name: a.name.clone(),
            role: a.role,
            council: a.council.map(|c| c.to_string()),
            council_name: a.council.map(|c| c.info().name.clone()),
            school: a.school.clone(),
        }
    }
}

/// Sign in.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignInRequest {
    /// E-mail address.
    pub email: String,
    /// Password.
    pub password: String,
}

/// A new session. The session token is in the `cnis_session` cookie; send
/// `csrf` as the `X-CSRF-Token` header with every change.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SessionResponse {
    /// The form token.
    pub csrf: String,
    /// When the session ends (ms since 1970).
    pub expires_at: i64,
    /// Who.
    pub user: Me,
}

/// A new register entry.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateEntryRequest {
    /// Content.
    pub content: EntryContent,
    /// How the council learnt of the child.
    pub source: EntrySource,
    /// Optional content (team managers only).
    #[serde(default)]
    pub restricted: Option<RestrictedContent>,
    /// Why the entry is made.
    pub reason: String,
}

/// A change to an entry's content.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateEntryRequest {
    /// The version the change was made from.
    pub version: i64,
    /// The new content.
    pub content: EntryContent,
    /// Why.
    pub reason: String,
}

/// Confirm a draft.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmRequest {
    /// The version seen.
    pub version: i64,
    /// Why (what was checked).
    pub reason: String,
}

/// Take a child off the register.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LeaveRequest {
    /// The version seen.
    pub version: i64,
    /// Why the child left.
    pub why: LeaveReason,
    /// The day they left, `YYYY-MM-DD`.
    pub on: NaiveDate,
    /// In the caseworker's words.
    pub reason: String,
}

/// Replace optional content.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RestrictedRequest {
    /// The content.
    pub content: RestrictedContent,
    /// Why.
    pub reason: String,
}

/// Ask for emergency access.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmergencyRequest {
    /// Why the child may be at risk (at least 20 characters).
    pub reason: String,
}

/// Record an agreed identity.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgreeRequest {
    /// The partner system's reference.
    pub reference: String,
    /// The child.
    pub child_id: String,
}

/// Import a tracking run.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportRequest {
    /// The tracking run's number.
    pub run: i64,
}

/// A new account in the administrator's council.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountRequest {
    /// E-mail.
    pub email: String,
    /// Name.
    pub name: String,
    /// Role (caseworker, team_manager, council_admin or school).
    pub role: Role,
    /// School (LAESTAB), for a school user.
    #[serde(default)]
    pub school: Option<String>,
    /// Password.
    pub password: String,
}

/// An account, as its administrator sees it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AccountView {
    /// Id.
    pub id: i64,
    /// E-mail.
    pub email: String,
    /// Name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// Locked until (ms).
    pub locked_until: Option<i64>,
    /// Switched off.
    pub disabled: bool,
}

/// A change to an account.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountChange {
    /// Switch the account off (true) or on (false).
    #[serde(default)]
    pub disabled: Option<bool>,
    /// Clear a lock after failed sign-ins.
    #[serde(default)]
    pub unlock: bool,
}

/// A list's page.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only entries in this status.
    pub status: Option<EntryStatus>,
    /// Page, from 1.
    pub page: Option<i64>,
    /// Items a page (at most 200).
    pub per_page: Option<i64>,
}

/// A page of the audit chain.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Rows after this sequence number.
    pub after: Option<i64>,
    /// Rows (at most 1,000).
    pub limit: Option<i64>,
}

/// Search results.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SearchResponse {
    /// Best first.
    pub results: Vec<SearchHit>,
}

/// Lookup results.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LookupResponse {
    /// Candidates at or above the probability floor, best first.
    pub candidates: Vec<LookupCandidate>,
}

/// Health.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Health {
    /// `ok`, or `unavailable`.
    pub status: String,
}

pub(crate) fn query<T>(q: Result<Query<T>, axum::extract::rejection::QueryRejection>) -> Result<T, ApiError> {
    q.map(|Query(v)| v).map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "A query parameter has an unknown name or a value of the wrong type; the OpenAPI document lists them.",
        )
    })
}

pub(crate) fn path_id(p: Result<Path<i64>, axum::extract::rejection::PathRejection>) -> Result<i64, ApiError> {
    p.map(|Path(v)| v)
        .map_err(|_| ApiError::new(StatusCode::NOT_FOUND, "No entry with that id: ids are whole numbers."))
}

fn path_text(p: Result<Path<String>, axum::extract::rejection::PathRejection>) -> Result<String, ApiError> {
    p.map(|Path(v)| v).map_err(|_| ApiError::new(StatusCode::NOT_FOUND, "No such child."))
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/health", tag = "service", responses((status = 200, body = Health)))]
pub async fn health() -> Json<Health> {
    Json(Health { status: "ok".into() })
}

/// Readiness: the database answers.
#[utoipa::path(get, path = "/ready", tag = "service", responses(
    (status = 200, body = Health), (status = 503, body = Health)))]
pub async fn ready(state: axum::extract::State<AppState>) -> Response {
    let ok = state.blocking(|s| Ok(s.ready())).await.unwrap_or(false);
    let status = if ok { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(Health { status: if ok { "ok" } else { "unavailable" }.into() })).into_response()
}

/// The session cookie for a token.
pub fn session_cookie(token: &str, max_age_s: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_s}{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The cookie that ends a session in the browser.
pub fn cleared_cookie(secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure}"))
        .unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The address a request came from (loopback when unknown, as in tests
/// that call the router directly).
pub fn client_ip(info: Option<&ConnectInfo<std::net::SocketAddr>>) -> std::net::IpAddr {
    info.map_or(std::net::IpAddr::from([127, 0, 0, 1]), |c| c.0.ip())
}

/// Sign in with e-mail and password. Sets the session cookie.
#[utoipa::path(post, path = "/api/v1/session", tag = "session", request_body = SignInRequest, responses(
    (status = 200, body = SessionResponse), (status = 400, body = Problem, content_type = "application/problem+json"),
    (status = 415, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json"),
    (status = 423, body = Problem, content_type = "application/problem+json"), (status = 429, body = Problem, content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds to wait before trying again")))))]
pub async fn sign_in(
    state: axum::extract::State<AppState>,
    info: ConnectInfo<std::net::SocketAddr>,
    Body(req): Body<SignInRequest>,
) -> Result<Response, ApiError> {
    if let Err(retry_after) = state.sign_ins.take(client_ip(Some(&info))) {
        return Err(cnis_app::service::ServiceError::RateLimited { retry_after }.into());
    }
    let signed = state.blocking(move |s| s.sign_in(&req.email, &req.password)).await?;
    let max_age = (signed.expires_at - cnis_app::service::now_ms()) / 1000;
    let body =
        SessionResponse { csrf: signed.csrf.clone(), expires_at: signed.expires_at, user: Me::from(&signed.actor) };
    let mut r = Json(body).into_response();
    r.headers_mut().insert(header::SET_COOKIE, session_cookie(&signed.token, max_age, state.secure_cookies));
    Ok(r)
}

/// Sign out.
#[utoipa::path(delete, path = "/api/v1/session", tag = "session", responses(
    (status = 204), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json")),
    security(("session" = [])))]
pub async fn sign_out(state: axum::extract::State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    if let Via::Session { token, .. } = caller.via {
        state.blocking(move |s| s.sign_out(&token)).await?;
    }
    let mut headers = HeaderMap::new();
    headers.insert(header::SET_COOKIE, cleared_cookie(state.secure_cookies));
    Ok((StatusCode::NO_CONTENT, headers).into_response())
}

/// Who is signed in.
#[utoipa::path(get, path = "/api/v1/me", tag = "session", responses(
    (status = 200, body = Me), (status = 401, body = Problem, content_type = "application/problem+json")), security(("session" = []), ("bearer" = [])))]
pub async fn me(caller: Caller) -> Json<Me> {
    Json(Me::from(&caller.actor))
}

/// The council's counts: entries by status, drafts waiting, children with
/// no known education, emergency access by other councils.
#[utoipa::path(get, path = "/api/v1/dashboard", tag = "register", responses(
    (status = 200, body = Dashboard), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json")),
    security(("session" = []), ("bearer" = [])))]
pub async fn dashboard(state: axum::extract::State<AppState>, caller: Caller) -> Result<Json<Dashboard>, ApiError> {
    Ok(Json(state.blocking(move |s| s.dashboard(&caller.actor)).await?))
}

/// The council's register entries, a page at a time.
#[utoipa::path(get, path = "/api/v1/entries", tag = "register", params(ListQuery), responses(
    (status = 200, body = Page<EntryView>), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"),
    (status = 403, body = Problem, content_type = "application/problem+json")), security(("session" = []), ("bearer" = [])))]
pub async fn list_entries(
    state: axum::extract::State<AppState>,
    caller: Caller,
    q: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Page<EntryView>>, ApiError> {
    let q = query(q)?;
    let (page, per_page) = (q.page.unwrap_or(1), q.per_page.unwrap_or(50));
    Ok(Json(state.blocking(move |s| s.list_entries(&caller.actor, q.status, page, per_page)).await?))
}

/// Add a child to the council's register (a draft to confirm).
#[utoipa::path(post, path = "/api/v1/entries", tag = "register", request_body = CreateEntryRequest, responses(
    (status = 201, body = EntryView), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"),
    (status = 403, body = Problem, content_type = "application/problem+json"), (status = 409, body = Problem, content_type = "application/problem+json"), (status = 415, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json")), security(("session" = []), ("bearer" = [])))]
pub async fn create_entry(
    state: axum::extract::State<AppState>,
    caller: Caller,
    Body(req): Body<CreateEntryRequest>,
) -> Result<Response, ApiError> {
    let new = NewEntry { content: req.content, source: req.source, child_id: None, restricted: req.restricted };
    let view = state.blocking(move |s| s.create_entry(&caller.actor, new, &req.reason)).await?;
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

/// Change an entry's content, from the version seen, with a reason.
#[utoipa::path(put, path = "/api/v1/entries/{id}", tag = "register", params(("id" = i64, Path, description = "Entry id")),
    request_body = UpdateEntryRequest, responses(
    (status = 200, body = EntryView), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"),
    (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json"), (status = 409, body = Problem, content_type = "application/problem+json"),
    (status = 415, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")), security(("session" = []), ("bearer" = [])))]
pub async fn update_entry(
    state: axum::extract::State<AppState>,
    caller: Caller,
    id: Result<Path<i64>, axum::extract::rejection::PathRejection>,
    Body(req): Body<UpdateEntryRequest>,
) -> Result<Json<EntryView>, ApiError> {
    let id = path_id(id)?;
    Ok(Json(state.blocking(move |s| s.update_entry(&caller.actor, id, req.version, req.content, &req.reason)).await?))
}

/// Confirm a draft: the child is on the register.
#[utoipa::path(post, path = "/api/v1/entries/{id}/confirm", tag = "register", params(("id" = i64, Path, description = "Entry id")),
    request_body = ConfirmRequest, responses(
    (status = 200, body = EntryView), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"),
    (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json"), (status = 409, body = Problem, content_type = "application/problem+json"),
    (status = 415, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")), security(("session" = []), ("bearer" = [])))]
pub async fn confirm_entry(
    state: axum::extract::State<AppState>,
    caller: Caller,
    id: Result<Path<i64>, axum::extract::rejection::PathRejection>,
    Body(req): Body<ConfirmRequest>,
) -> Result<Json<EntryView>, ApiError> {
    let id = path_id(id)?;
    Ok(Json(state.blocking(move |s| s.confirm_entry(&caller.actor, id, req.version, &req.reason)).await?))
}

/// Take a child off the register, with the reason; the entry is kept
/// until its retention date.
#[utoipa::path(post, path = "/api/v1/entries/{id}/leave", tag = "register", params(("id" = i64, Path, description = "Entry id")),
    request_body = LeaveRequest, responses(
    (status = 200, body = EntryView), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"),
    (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json"), (status = 409, body = Problem, content_type = "application/problem+json"),
    (status = 415, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")), security(("session" = []), ("bearer" = [])))]
pub async fn leave_entry(
    state: axum::extract::State<AppState>,
    caller: Caller,
    id: Result<Path<i64>, axum::extract::rejection::PathRejection>,
    Body(req): Body<LeaveRequest>,
) -> Result<Json<EntryView>, ApiError> {
    let id = path_id(id)?;
    Ok(Json(
        state.blocking(move |s| s.leave_entry(&caller.actor, id, req.version, req.why, req.on, &req.reason)).await?,
    ))
}

/// Replace an entry's optional content (team managers).
#[utoipa::path(put, path = "/api/v1/entries/{id}/restricted", tag = "register", params(("id" = i64, Path, description = "Entry id")),
    request_body = RestrictedRequest, responses(
    (status = 204), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"),
    (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json"), (status = 415, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json")), security(("session" = []), ("bearer" = [])))]
pub async fn update_restricted(
    state: axum::extract::State<AppState>,
    caller: Caller,
    id: Result<Path<i64>, axum::extract::rejection::PathRejection>,
    Body(req): Body<RestrictedRequest>,
) -> Result<StatusCode, ApiError> {
    let id = path_id(id)?;
    state.blocking(move |s| s.update_restricted(&caller.actor, id, req.content, &req.reason)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A child: identifiers, register entries, history, who viewed them.
/// Audited.
#[utoipa::path(get, path = "/api/v1/children/{child_id}", tag = "register",
    params(("child_id" = String, Path, description = "cnis child id")), responses(
    (status = 200, body = ChildView), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json")), security(("session" = []), ("bearer" = [])))]
pub async fn child(
    state: axum::extract::State<AppState>,
    caller: Caller,
    id: Result<Path<String>, axum::extract::rejection::PathRejection>,
) -> Result<Json<ChildView>, ApiError> {
    let id = path_text(id)?;
    let pending = state.blocking(move |s| s.child_audited(&caller.actor, &id)).await?;
    Ok(Json(pending.committed().await?))
}

/// Take time-limited access to another council's child, with a reason
/// the owning council sees. Audited.
#[utoipa::path(post, path = "/api/v1/children/{child_id}/emergency-access", tag = "register",
    params(("child_id" = String, Path, description = "cnis child id")), request_body = EmergencyRequest, responses(
    (status = 204), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"), (status = 415, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("session" = []), ("bearer" = [])))]
pub async fn emergency_access(
    state: axum::extract::State<AppState>,
    caller: Caller,
    id: Result<Path<String>, axum::extract::rejection::PathRejection>,
    Body(req): Body<EmergencyRequest>,
) -> Result<StatusCode, ApiError> {
    let id = path_text(id)?;
    state.blocking(move |s| s.emergency_access(&caller.actor, &id, &req.reason)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Search the council's register by name (fuzzy), date of birth,
/// postcode, UPN, NHS number or child id. Sent by POST so search terms stay
/// out of URLs and logs. Audited with the children shown.
#[utoipa::path(post, path = "/api/v1/search", tag = "register", request_body = SearchRequest, responses(
    (status = 200, body = SearchResponse), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"),
    (status = 403, body = Problem, content_type = "application/problem+json"), (status = 415, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("session" = []), ("bearer" = [])))]
pub async fn search(
    state: axum::extract::State<AppState>,
    caller: Caller,
    Body(req): Body<SearchRequest>,
) -> Result<Json<SearchResponse>, ApiError> {
    let results = state.blocking(move |s| s.search(&caller.actor, &req, 25)).await?;
    Ok(Json(SearchResponse { results }))
}

/// Identity lookup for partner agencies: candidate children's
/// identifiers, match probability and the fields that agreed. Name and
/// date of birth required; rate-limited per system; audited.
#[utoipa::path(post, path = "/api/v1/identity/lookup", tag = "identity", request_body = LookupRequest, responses(
    (status = 200, body = LookupResponse), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"),
    (status = 403, body = Problem, content_type = "application/problem+json"), (status = 415, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json"),
    (status = 429, body = Problem, content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds to wait before trying again")))), security(("bearer" = []), ("session" = [])))]
pub async fn lookup(
    state: axum::extract::State<AppState>,
    caller: Caller,
    Body(req): Body<LookupRequest>,
) -> Result<Json<LookupResponse>, ApiError> {
    let candidates = state.blocking(move |s| s.lookup(&caller.actor, &req)).await?;
    Ok(Json(LookupResponse { candidates }))
}

/// Record that the partner's reference is this child; the next lookup
/// with it is exact.
#[utoipa::path(post, path = "/api/v1/identity/agree", tag = "identity", request_body = AgreeRequest, responses(
    (status = 204), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"), (status = 415, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = []), ("session" = [])))]
pub async fn agree(
    state: axum::extract::State<AppState>,
    caller: Caller,
    Body(req): Body<AgreeRequest>,
) -> Result<StatusCode, ApiError> {
    state.blocking(move |s| s.agree_identity(&caller.actor, &req.reference, &req.child_id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Entries by council and status across England: counts, no names
/// (national analysts).
#[utoipa::path(get, path = "/api/v1/national/counts", tag = "statistics", responses(
    (status = 200, body = Vec<StatusCount>), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json")),
    security(("session" = []), ("bearer" = [])))]
pub async fn national_counts(
    state: axum::extract::State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<StatusCount>>, ApiError> {
    Ok(Json(state.blocking(move |s| s.national_counts(&caller.actor)).await?))
}

/// The audit chain: who did what and when, without the children (auditors).
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", params(AuditQuery), responses(
    (status = 200, body = Vec<ChainRow>), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"),
    (status = 403, body = Problem, content_type = "application/problem+json")), security(("session" = []), ("bearer" = [])))]
pub async fn audit(
    state: axum::extract::State<AppState>,
    caller: Caller,
    q: Result<Query<AuditQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<ChainRow>>, ApiError> {
    let q = query(q)?;
    Ok(Json(state.blocking(move |s| s.audit_chain(&caller.actor, q.after.unwrap_or(0), q.limit.unwrap_or(100))).await?))
}

/// Everything recorded about one child, for a subject access request
/// (team managers of a council whose register holds the child).
#[utoipa::path(get, path = "/api/v1/audit/children/{child_id}", tag = "audit",
    params(("child_id" = String, Path, description = "cnis child id")), responses(
    (status = 200, body = SubjectAccessExport), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json")), security(("session" = []), ("bearer" = [])))]
pub async fn subject_access(
    state: axum::extract::State<AppState>,
    caller: Caller,
    id: Result<Path<String>, axum::extract::rejection::PathRejection>,
) -> Result<Json<SubjectAccessExport>, ApiError> {
    let id = path_text(id)?;
    Ok(Json(state.blocking(move |s| s.subject_access_export(Some(&caller.actor), &id)).await?))
}

/// The council's accounts (council administrators).
#[utoipa::path(get, path = "/api/v1/accounts", tag = "accounts", responses(
    (status = 200, body = Vec<AccountView>), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json")),
    security(("session" = []), ("bearer" = [])))]
pub async fn accounts(
    state: axum::extract::State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<AccountView>>, ApiError> {
    let users = state.blocking(move |s| s.accounts(&caller.actor)).await?;
    Ok(Json(
        users
            .into_iter()
            .map(|u| AccountView {
                id: u.id,
                email: u.email,
                name: u.name,
                role: u.role,
                locked_until: u.locked_until,
                disabled: u.disabled,
            })
            .collect(),
    ))
}

/// Add an account in the administrator's council.
#[utoipa::path(post, path = "/api/v1/accounts", tag = "accounts", request_body = AccountRequest, responses(
    (status = 201, body = AccountView), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"),
    (status = 403, body = Problem, content_type = "application/problem+json"), (status = 409, body = Problem, content_type = "application/problem+json"), (status = 415, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json")), security(("session" = []), ("bearer" = [])))]
pub async fn add_account(
    state: axum::extract::State<AppState>,
    caller: Caller,
    Body(req): Body<AccountRequest>,
) -> Result<Response, ApiError> {
    let council = caller.actor.council;
    let new = NewAccount {
        email: req.email.clone(),
        name: req.name.clone(),
        role: req.role,
        council,
        school: req.school,
        password: Some(req.password),
    };
    let id = state.blocking(move |s| s.add_account(Some(&caller.actor), &new)).await?;
    let view = AccountView {
        id,
        email: req.email.trim().to_ascii_lowercase(),
        name: req.name.trim().to_string(),
        role: req.role,
        locked_until: None,
        disabled: false,
    };
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

/// Switch an account of the administrator's council off or on, or unlock it.
#[utoipa::path(patch, path = "/api/v1/accounts/{id}", tag = "accounts", params(("id" = i64, Path, description = "Account id")),
    request_body = AccountChange, responses(
    (status = 200, body = AccountView), (status = 400, body = Problem, content_type = "application/problem+json"),
    (status = 401, body = Problem, content_type = "application/problem+json"),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, body = Problem, content_type = "application/problem+json"),
    (status = 415, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json")), security(("session" = []), ("bearer" = [])))]
pub async fn change_account(
    state: axum::extract::State<AppState>,
    caller: Caller,
    id: Result<Path<i64>, axum::extract::rejection::PathRejection>,
    Body(req): Body<AccountChange>,
) -> Result<Json<AccountView>, ApiError> {
    let id = id.map(|Path(v)| v).map_err(|_| ApiError::new(StatusCode::NOT_FOUND, "No account with that id."))?;
    let u = state.blocking(move |s| s.change_account(&caller.actor, id, req.disabled, req.unlock)).await?;
    Ok(Json(AccountView {
        id: u.id,
        email: u.email,
        name: u.name,
        role: u.role,
        locked_until: u.locked_until,
        disabled: u.disabled,
    }))
}

/// Make drafts from a tracking run's leavers of the council's schools.
#[utoipa::path(post, path = "/api/v1/imports", tag = "register", request_body = ImportRequest, responses(
    (status = 200, body = ImportReport), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"),
    (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json"), (status = 409, body = Problem, content_type = "application/problem+json"),
    (status = 415, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")), security(("session" = []), ("bearer" = [])))]
pub async fn import(
    state: axum::extract::State<AppState>,
    caller: Caller,
    Body(req): Body<ImportRequest>,
) -> Result<Json<ImportReport>, ApiError> {
    Ok(Json(crate::import_run(&state, caller.actor, req.run).await?))
}

/// The API's routes, with their OpenAPI paths.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(health))
        .routes(routes!(ready))
        .routes(routes!(sign_in, sign_out))
        .routes(routes!(me))
        .routes(routes!(dashboard))
        .routes(routes!(list_entries, create_entry))
        .routes(routes!(update_entry))
        .routes(routes!(confirm_entry))
        .routes(routes!(leave_entry))
        .routes(routes!(update_restricted))
        .routes(routes!(child))
        .routes(routes!(emergency_access))
        .routes(routes!(search))
        .routes(routes!(lookup))
        .routes(routes!(agree))
        .routes(routes!(national_counts))
        .routes(routes!(audit))
        .routes(routes!(subject_access))
        .routes(routes!(accounts, add_account))
        .routes(routes!(change_account))
        .routes(routes!(import))
        .merge(crate::api_cases::routes())
        .merge(crate::api_identity::routes())
        .merge(crate::api_ap::routes())
}
