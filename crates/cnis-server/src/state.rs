//! What every handler shares: the service, the OpenAPI document, the
//! per-address sign-in limit, and settings.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::http::StatusCode;
use cnis_app::service::{Service, ServiceError};

use crate::problem::ApiError;

/// Shared state.
#[derive(Clone)]
pub struct AppState {
    /// The register service.
    pub service: Arc<Service>,
    /// The OpenAPI document, as served.
    pub openapi: Arc<String>,
    /// Sign-in attempts per address.
    pub sign_ins: Arc<SignInLimit>,
    /// The analytical database holding tracking runs, if the server was
    /// given one (`--analytics`).
    pub analytics: Option<PathBuf>,
    /// Whether cookies are marked `Secure` (off only for plain-HTTP tests
    /// on loopback).
    pub secure_cookies: bool,
}

impl AppState {
    /// Runs a use case on the blocking pool: the service does database work
    /// and password hashing, which must not hold up the async threads.
    pub async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Service) -> Result<T, ServiceError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let service = self.service.clone();
        let span = tracing::Span::current();
        match tokio::task::spawn_blocking(move || span.in_scope(|| f(&service))).await {
            Ok(r) => r.map_err(ApiError::from),
            Err(e) => {
                tracing::error!(error = %e, "a use case panicked");
                Err(ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong in the service."))
            }
        }
    }
}

/// At most `per_minute` sign-in attempts a minute from one address (a
/// token bucket), beside the account lockout the service applies: the
/// lockout stops guessing one account's password, this stops trying one
/// password on many accounts.
pub struct SignInLimit {
    per_minute: f64,
    buckets: Mutex<HashMap<IpAddr, (f64, Instant)>>,
}

impl SignInLimit {
    /// A limit.
    pub fn new(per_minute: u32) -> SignInLimit {
        SignInLimit { per_minute: f64::from(per_minute.max(1)), buckets: Mutex::new(HashMap::new()) }
    }

    /// Takes an attempt for `ip`, or says how many seconds to wait.
    pub fn take(&self, ip: IpAddr) -> Result<(), u64> {
        let Ok(mut b) = self.buckets.lock() else { return Err(60) };
        if b.len() > 100_000 {
            b.clear();
        }
        let now = Instant::now();
        let (tokens, last) = b.entry(ip).or_insert((self.per_minute, now));
        *tokens = (*tokens + now.duration_since(*last).as_secs_f64() * self.per_minute / 60.0).min(self.per_minute);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - *tokens) * 60.0 / self.per_minute).ceil() as u64)
        }
    }
}
