//! The JSON API for identity in the register: merge two children found to
//! be one, undo a merge, record "not the same child", the reviewer's queue
//! and the council's decisions. As in [`crate::api`], each handler reads
//! its input and calls one use case; access, scope and audit are the use
//! case's business.

use axum::Json;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use cnis_app::service::identity::{IdentityDecision, Merge, MergeChildren, NotSameChild, ReviewPair, UndoMerge};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::{Body, path_id, query};
use crate::auth::Caller;
use crate::problem::{ApiError, Problem};
use crate::state::AppState;

/// How many pairs.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct QueueQuery {
    /// At most this many pairs (1 to 200; 50 when left out).
    pub limit: Option<usize>,
}

/// Merge two children on the council's register found to be one: the
/// absorbed child's entry is marked merged and either child's record reads
/// as the group. Audited.
#[utoipa::path(post, path = "/api/v1/merges", tag = "identity", request_body = MergeChildren, responses(
    (status = 201, body = Merge), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"),
    (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, body = Problem, content_type = "application/problem+json"), (status = 415, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("session" = []), ("bearer" = [])))]
pub async fn merge_children(
    state: axum::extract::State<AppState>,
    caller: Caller,
    Body(m): Body<MergeChildren>,
) -> Result<(StatusCode, Json<Merge>), ApiError> {
    Ok((StatusCode::CREATED, Json(state.blocking(move |s| s.merge_children(&caller.actor, m)).await?)))
}

/// Undo a merge: each child has again what was written for it, and the
/// pair is recorded as not the same child. Audited.
#[utoipa::path(post, path = "/api/v1/merges/{id}/undo", tag = "identity", params(("id" = i64, Path, description = "Merge id")),
    request_body = UndoMerge, responses(
    (status = 200, body = Merge), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"),
    (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, body = Problem, content_type = "application/problem+json"), (status = 415, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("session" = []), ("bearer" = [])))]
pub async fn undo_merge(
    state: axum::extract::State<AppState>,
    caller: Caller,
    id: Result<Path<i64>, axum::extract::rejection::PathRejection>,
    Body(undo): Body<UndoMerge>,
) -> Result<Json<Merge>, ApiError> {
    let id = path_id(id)?;
    Ok(Json(state.blocking(move |s| s.undo_merge(&caller.actor, id, undo)).await?))
}

/// Record that two children are not the same child: the queue stops
/// offering the pair and a merge of them is refused. Audited.
#[utoipa::path(post, path = "/api/v1/identity/not-same", tag = "identity", request_body = NotSameChild, responses(
    (status = 201, body = IdentityDecision), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"),
    (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, body = Problem, content_type = "application/problem+json"), (status = 415, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("session" = []), ("bearer" = [])))]
pub async fn not_same_child(
    state: axum::extract::State<AppState>,
    caller: Caller,
    Body(d): Body<NotSameChild>,
) -> Result<(StatusCode, Json<IdentityDecision>), ApiError> {
    Ok((StatusCode::CREATED, Json(state.blocking(move |s| s.not_same_child(&caller.actor, d)).await?)))
}

/// The council's decisions on pairs of children, oldest first. Audited.
#[utoipa::path(get, path = "/api/v1/identity/decisions", tag = "identity", responses(
    (status = 200, body = Vec<IdentityDecision>), (status = 401, body = Problem, content_type = "application/problem+json"),
    (status = 403, body = Problem, content_type = "application/problem+json")), security(("session" = []), ("bearer" = [])))]
pub async fn identity_decisions(
    state: axum::extract::State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<IdentityDecision>>, ApiError> {
    Ok(Json(state.blocking(move |s| s.identity_decisions(&caller.actor)).await?))
}

/// The reviewer's queue: pairs on the council's register that may be one
/// child, most likely first, each with the weight of every field compared.
/// Audited with the children shown.
#[utoipa::path(get, path = "/api/v1/identity/queue", tag = "identity", params(QueueQuery), responses(
    (status = 200, body = Vec<ReviewPair>), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"),
    (status = 403, body = Problem, content_type = "application/problem+json")), security(("session" = []), ("bearer" = [])))]
pub async fn identity_queue(
    state: axum::extract::State<AppState>,
    caller: Caller,
    q: Result<Query<QueueQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<ReviewPair>>, ApiError> {
    let q = query(q)?;
    let limit = q.limit.unwrap_or(50);
    Ok(Json(state.blocking(move |s| s.identity_queue(&caller.actor, limit)).await?))
}

/// The identity routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(merge_children))
        .routes(routes!(undo_merge))
        .routes(routes!(not_same_child))
        .routes(routes!(identity_decisions))
        .routes(routes!(identity_queue))
}
