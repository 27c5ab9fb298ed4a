//! The register service over HTTP. The assets in `assets/` are the built
//! GOV.UK Frontend and MOJ Frontend files (`scripts/vendor-assets.sh`).
