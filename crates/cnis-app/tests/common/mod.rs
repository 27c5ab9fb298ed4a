//! What the service's test files share: a service on SQLite always, and
//! on PostgreSQL (a schema of its own, dropped afterwards) when
//! `DATABASE_URL` is set.

use cnis_app::service::{Actor, NewAccount, Service, ServiceConfig};
use cnis_core::register::Role;
use cnis_core::{ChildId, LaCode};
use cnis_store::db::Backend;

/// A service on one backend, with the files it keeps beside it.
pub struct Env {
    pub name: &'static str,
    pub service: Service,
    _dir: tempfile::TempDir,
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = self.service.db().drop_schema();
    }
}

/// A fresh service on each backend the tests run on.
pub fn services() -> Vec<Env> {
    let dir = tempfile::tempdir().expect("temp dir");
    let sqlite = Service::open(ServiceConfig::new(Backend::Sqlite(dir.path().join("register.db")))).expect("SQLite");
    let mut out = vec![Env { name: "sqlite", service: sqlite, _dir: dir }];
    if let Ok(url) = std::env::var("DATABASE_URL") {
        let dir = tempfile::tempdir().expect("temp dir");
        let schema = format!("t{}", ChildId::random(&mut rand::rng()).payload());
        let mut config = ServiceConfig::new(Backend::Postgres { url, schema: Some(schema) });
        config.secret_file = dir.path().join("secret");
        config.checkpoint_file = dir.path().join("audit-head");
        let pg = Service::open(config).expect("DATABASE_URL is set but PostgreSQL did not answer");
        out.push(Env { name: "postgres", service: pg, _dir: dir });
    }
    out
}

/// An account of a council (and a school, for a school user), signed in
/// as an actor. Not every test file uses it.
#[allow(dead_code)]
pub fn account(s: &Service, email: &str, role: Role, council: &str, school: Option<&str>) -> Actor {
    s.add_account(
        None,
        &NewAccount {
            email: email.into(),
            name: email.split('@').next().unwrap_or(email).into(),
            role,
            council: Some(LaCode::parse(council).expect("LA")),
            school: school.map(str::to_string),
            password: Some("correct horse battery".into()),
        },
    )
    .expect("account");
    s.actor_for(email).expect("actor")
}
