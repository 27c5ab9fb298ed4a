//! The JSON API for the register of unregistered alternative provision:
//! providers, evidence against the standards, visits, placements and their
//! attendance, and alerts. As in [`crate::api`], each handler reads its
//! input and calls one use case; access, scope and audit are the use
//! case's business.

use axum::Json;
use axum::extract::Path;
use axum::http::StatusCode;
use cnis_app::service::ap::{
    ApProvider, EndPlacement, NewAttendance, NewEvidence, NewProvider, NewVisit, PlaceChild, Placement, ProviderAlert,
    ProviderSummary, ProviderView, UpdateProvider,
};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::{Body, path_id};
use crate::auth::Caller;
use crate::problem::{ApiError, Problem};
use crate::state::AppState;

type PathId = Result<Path<i64>, axum::extract::rejection::PathRejection>;

/// Add a provider to the council's register. Audited.
#[utoipa::path(post, path = "/api/v1/ap/providers", tag = "alternative provision", request_body = NewProvider, responses(
    (status = 201, body = ApProvider), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"),
    (status = 403, body = Problem, content_type = "application/problem+json"), (status = 415, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("session" = []), ("bearer" = [])))]
pub async fn add_provider(
    state: axum::extract::State<AppState>,
    caller: Caller,
    Body(p): Body<NewProvider>,
) -> Result<(StatusCode, Json<ApProvider>), ApiError> {
    Ok((StatusCode::CREATED, Json(state.blocking(move |s| s.add_provider(&caller.actor, p)).await?)))
}

/// The council's providers, each with its alerts today. Audited.
#[utoipa::path(get, path = "/api/v1/ap/providers", tag = "alternative provision", responses(
    (status = 200, body = Vec<ProviderSummary>), (status = 401, body = Problem, content_type = "application/problem+json"),
    (status = 403, body = Problem, content_type = "application/problem+json")), security(("session" = []), ("bearer" = [])))]
pub async fn providers(
    state: axum::extract::State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<ProviderSummary>>, ApiError> {
    Ok(Json(state.blocking(move |s| s.providers(&caller.actor)).await?))
}

/// A provider: the standards checklist, evidence, visits, placements with
/// attendance, alerts and history. Audited against the children placed.
#[utoipa::path(get, path = "/api/v1/ap/providers/{id}", tag = "alternative provision", params(("id" = i64, Path, description = "Provider id")),
    responses((status = 200, body = ProviderView), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"),
    (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("session" = []), ("bearer" = [])))]
pub async fn provider(
    state: axum::extract::State<AppState>,
    caller: Caller,
    id: PathId,
) -> Result<Json<ProviderView>, ApiError> {
    let id = path_id(id)?;
    Ok(Json(state.blocking(move |s| s.provider(&caller.actor, id)).await?))
}

/// Change a provider's details, from the version seen. Audited.
#[utoipa::path(put, path = "/api/v1/ap/providers/{id}", tag = "alternative provision", params(("id" = i64, Path, description = "Provider id")),
    request_body = UpdateProvider, responses(
    (status = 200, body = ApProvider), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"),
    (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, body = Problem, content_type = "application/problem+json"), (status = 415, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("session" = []), ("bearer" = [])))]
pub async fn update_provider(
    state: axum::extract::State<AppState>,
    caller: Caller,
    id: PathId,
    Body(u): Body<UpdateProvider>,
) -> Result<Json<ApProvider>, ApiError> {
    let id = path_id(id)?;
    Ok(Json(state.blocking(move |s| s.update_provider(&caller.actor, id, u)).await?))
}

/// Record evidence against one of the council's standards. Audited.
#[utoipa::path(post, path = "/api/v1/ap/providers/{id}/evidence", tag = "alternative provision", params(("id" = i64, Path, description = "Provider id")),
    request_body = NewEvidence, responses(
    (status = 204), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"),
    (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 415, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("session" = []), ("bearer" = [])))]
pub async fn record_evidence(
    state: axum::extract::State<AppState>,
    caller: Caller,
    id: PathId,
    Body(e): Body<NewEvidence>,
) -> Result<StatusCode, ApiError> {
    let id = path_id(id)?;
    state.blocking(move |s| s.record_evidence(&caller.actor, id, e)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Record a quality-assurance visit. Audited.
#[utoipa::path(post, path = "/api/v1/ap/providers/{id}/visits", tag = "alternative provision", params(("id" = i64, Path, description = "Provider id")),
    request_body = NewVisit, responses(
    (status = 204), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"),
    (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 415, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("session" = []), ("bearer" = [])))]
pub async fn record_visit(
    state: axum::extract::State<AppState>,
    caller: Caller,
    id: PathId,
    Body(v): Body<NewVisit>,
) -> Result<StatusCode, ApiError> {
    let id = path_id(id)?;
    state.blocking(move |s| s.record_visit(&caller.actor, id, v)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Place a child with the provider. Audited against the child.
#[utoipa::path(post, path = "/api/v1/ap/providers/{id}/placements", tag = "alternative provision", params(("id" = i64, Path, description = "Provider id")),
    request_body = PlaceChild, responses(
    (status = 201, body = Placement), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"),
    (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 415, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("session" = []), ("bearer" = [])))]
pub async fn place_child(
    state: axum::extract::State<AppState>,
    caller: Caller,
    id: PathId,
    Body(p): Body<PlaceChild>,
) -> Result<(StatusCode, Json<Placement>), ApiError> {
    let id = path_id(id)?;
    Ok((StatusCode::CREATED, Json(state.blocking(move |s| s.place_child(&caller.actor, id, p)).await?)))
}

/// Record a week's attendance at a placement. Audited against the child.
#[utoipa::path(post, path = "/api/v1/ap/placements/{id}/attendance", tag = "alternative provision", params(("id" = i64, Path, description = "Placement id")),
    request_body = NewAttendance, responses(
    (status = 204), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"),
    (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, body = Problem, content_type = "application/problem+json"), (status = 415, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("session" = []), ("bearer" = [])))]
pub async fn record_attendance(
    state: axum::extract::State<AppState>,
    caller: Caller,
    id: PathId,
    Body(a): Body<NewAttendance>,
) -> Result<StatusCode, ApiError> {
    let id = path_id(id)?;
    let _placement = state.blocking(move |s| s.record_attendance(&caller.actor, id, a)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// End a placement, from the version seen. Audited against the child.
#[utoipa::path(post, path = "/api/v1/ap/placements/{id}/end", tag = "alternative provision", params(("id" = i64, Path, description = "Placement id")),
    request_body = EndPlacement, responses(
    (status = 200, body = Placement), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"),
    (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, body = Problem, content_type = "application/problem+json"), (status = 415, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("session" = []), ("bearer" = [])))]
pub async fn end_placement(
    state: axum::extract::State<AppState>,
    caller: Caller,
    id: PathId,
    Body(e): Body<EndPlacement>,
) -> Result<Json<Placement>, ApiError> {
    let id = path_id(id)?;
    Ok(Json(state.blocking(move |s| s.end_placement(&caller.actor, id, e)).await?))
}

/// Every alert on the council's register today: standards missing or
/// lapsed at a provider with a child placed, placements with no attendance
/// recorded, placements past their planned end. Audited.
#[utoipa::path(get, path = "/api/v1/ap/alerts", tag = "alternative provision", responses(
    (status = 200, body = Vec<ProviderAlert>), (status = 401, body = Problem, content_type = "application/problem+json"),
    (status = 403, body = Problem, content_type = "application/problem+json")), security(("session" = []), ("bearer" = [])))]
pub async fn alerts(
    state: axum::extract::State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<ProviderAlert>>, ApiError> {
    Ok(Json(state.blocking(move |s| s.ap_alerts(&caller.actor)).await?))
}

/// The alternative provision routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(add_provider, providers))
        .routes(routes!(provider, update_provider))
        .routes(routes!(record_evidence))
        .routes(routes!(record_visit))
        .routes(routes!(place_child))
        .routes(routes!(record_attendance))
        .routes(routes!(end_placement))
        .routes(routes!(alerts))
}
