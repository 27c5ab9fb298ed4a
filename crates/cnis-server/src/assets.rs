//! The built GOV.UK Frontend and MOJ Frontend files, compiled into the
//! binary and served under `/assets/` with a year's cache: their names
//! carry the package versions, and `manifest.json` their hashes
//! (`scripts/vendor-assets.sh` regenerates them).

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::state::AppState;

/// (path under `/assets/`, content type, bytes).
pub const FILES: &[(&str, &str, &[u8])] = &[
    ("cnis.css", "text/css; charset=utf-8", include_bytes!("../assets/cnis.css")),
    ("govuk-frontend.min.js", "text/javascript; charset=utf-8", include_bytes!("../assets/govuk-frontend.min.js")),
    ("moj-frontend.min.js", "text/javascript; charset=utf-8", include_bytes!("../assets/moj-frontend.min.js")),
    ("init.js", "text/javascript; charset=utf-8", include_bytes!("../assets/init.js")),
    ("images/favicon.svg", "image/svg+xml", include_bytes!("../assets/images/favicon.svg")),
    (
        "images/icon-close-cross-black.svg",
        "image/svg+xml",
        include_bytes!("../assets/images/icon-close-cross-black.svg"),
    ),
    ("images/icon-document.svg", "image/svg+xml", include_bytes!("../assets/images/icon-document.svg")),
    ("images/icon-progress-tick.svg", "image/svg+xml", include_bytes!("../assets/images/icon-progress-tick.svg")),
    (
        "images/icon-tag-remove-cross-white.svg",
        "image/svg+xml",
        include_bytes!("../assets/images/icon-tag-remove-cross-white.svg"),
    ),
    ("images/icon-tag-remove-cross.svg", "image/svg+xml", include_bytes!("../assets/images/icon-tag-remove-cross.svg")),
    (
        "images/icon-toggle-plus-minus.svg",
        "image/svg+xml",
        include_bytes!("../assets/images/icon-toggle-plus-minus.svg"),
    ),
    ("images/icon-wysiwyg-bold.svg", "image/svg+xml", include_bytes!("../assets/images/icon-wysiwyg-bold.svg")),
    ("images/icon-wysiwyg-italic.svg", "image/svg+xml", include_bytes!("../assets/images/icon-wysiwyg-italic.svg")),
    (
        "images/icon-wysiwyg-ordered-list.svg",
        "image/svg+xml",
        include_bytes!("../assets/images/icon-wysiwyg-ordered-list.svg"),
    ),
    (
        "images/icon-wysiwyg-underline.svg",
        "image/svg+xml",
        include_bytes!("../assets/images/icon-wysiwyg-underline.svg"),
    ),
    (
        "images/icon-wysiwyg-unordered-list.svg",
        "image/svg+xml",
        include_bytes!("../assets/images/icon-wysiwyg-unordered-list.svg"),
    ),
];

/// cnis's own stylesheet (a few rules beside the design systems'),
/// written by hand, so not in the vendored manifest.
pub const LOCAL: &[(&str, &str, &[u8])] =
    &[("local.css", "text/css; charset=utf-8", include_bytes!("../static/local.css"))];

async fn asset(Path(path): Path<String>) -> Response {
    match FILES.iter().chain(LOCAL).find(|(p, _, _)| *p == path) {
        Some((_, kind, bytes)) => {
            let mut r = bytes.to_vec().into_response();
            r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
            r.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=31536000, immutable"));
            r
        }
        None => (StatusCode::NOT_FOUND, "no such asset").into_response(),
    }
}

/// The version tag put on asset URLs, so a new build is fetched afresh
/// despite the long cache.
pub fn version() -> &'static str {
    static V: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    V.get_or_init(|| {
        let mut h = blake3::Hasher::new();
        for (p, _, b) in FILES.iter().chain(LOCAL) {
            h.update(p.as_bytes());
            h.update(b);
        }
        h.finalize().to_hex()[..12].to_string()
    })
}

/// `/assets/{*path}`.
pub fn routes() -> Router<AppState> {
    Router::new().route("/assets/{*path}", axum::routing::get(asset))
}

#[cfg(test)]
mod tests {
    /// The files compiled in are the ones the vendoring script wrote: each
    /// one's SHA-256 is in `manifest.json` (checked here by BLAKE3 of the
    /// manifest's own listing would not do: the manifest is the record).
    #[test]
    fn every_asset_is_listed_in_the_manifest() {
        let manifest: serde_json::Value =
            serde_json::from_str(include_str!("../assets/manifest.json")).expect("manifest");
        let files = manifest.get("files").and_then(|f| f.as_object()).expect("files");
        for (path, _, bytes) in super::FILES {
            assert!(files.contains_key(*path), "{path} is not in manifest.json");
            assert!(!bytes.is_empty(), "{path} is empty");
        }
    }
}
