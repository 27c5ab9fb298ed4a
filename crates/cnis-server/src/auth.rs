//! Who is calling: a session cookie (people, through pages or the API) or
//! an `Authorization: Bearer` token (systems). A change made with a
//! session cookie must carry the session's form token, as the
//! `X-CSRF-Token` header (API) or the `csrf` form field (pages), so that
//! another site cannot make a signed-in browser act; a bearer token is not
//! sent by browsers on their own and needs none.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{Method, StatusCode, header};
use cnis_app::service::Actor;

use crate::problem::ApiError;
use crate::state::AppState;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "cnis_session";

/// How the caller proved who they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    /// A session cookie, with the session's form token.
    Session {
        /// The session token (to sign out).
        token: String,
        /// The form token.
        csrf: String,
    },
    /// An API token.
    Bearer,
}

/// A signed-in caller.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Who.
    pub actor: Actor,
    /// How.
    pub via: Via,
}

impl Caller {
    /// The session's form token, if a session.
    pub fn csrf(&self) -> Option<&str> {
        match &self.via {
            Via::Session { csrf, .. } => Some(csrf),
            Via::Bearer => None,
        }
    }

    /// Checks a form's token against the session's (pages).
    pub fn check_form(&self, token: &str) -> Result<(), ApiError> {
        match self.csrf() {
            Some(c) if constant_eq(c, token) => Ok(()),
            Some(_) => Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "The form was out of date or not from this service. Go back, reload the page and try again.",
            )),
            None => Ok(()),
        }
    }
}

fn constant_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The session cookie's value, if any.
pub fn session_cookie(parts: &Parts) -> Option<String> {
    parts.headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).find_map(|v| {
        v.split(';').find_map(|c| {
            let (k, val) = c.trim().split_once('=')?;
            (k == SESSION_COOKIE && !val.is_empty()).then(|| val.to_string())
        })
    })
}

fn bearer(parts: &Parts) -> Option<String> {
    let v = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim().to_string())
}

/// Whether a request changes something.
fn unsafe_method(m: &Method) -> bool {
    !matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Pages read their form token from the body; the API from this header.
pub const CSRF_HEADER: &str = "x-csrf-token";

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        // A credential checked in the last few seconds is answered here;
        // any other needs the database, on a blocking thread.
        if let Some(token) = bearer(parts) {
            let actor = match state.service.cached_token_actor(&token) {
                Some(actor) => actor,
                None => state.blocking(move |s| s.token_actor(&token)).await?,
            };
            return Ok(Caller { actor, via: Via::Bearer });
        }
        let Some(token) = session_cookie(parts) else {
            return Err(ApiError::new(StatusCode::UNAUTHORIZED, "Sign in first."));
        };
        let (actor, csrf) = match state.service.cached_session(&token) {
            Some(found) => found,
            None => {
                let t = token.clone();
                state.blocking(move |s| s.session(&t)).await?
            }
        };
        let is_page = !parts.uri.path().starts_with("/api/");
        if unsafe_method(&parts.method) && !is_page {
            let sent = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("");
            if !constant_eq(sent, &csrf) {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "A change made with a session cookie must send the session's form token in the X-CSRF-Token header.",
                ));
            }
        }
        Ok(Caller { actor, via: Via::Session { token, csrf } })
    }
}
