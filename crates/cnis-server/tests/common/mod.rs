//! Starts the real server on port 0 over a fresh register (SQLite, and
//! PostgreSQL when `DATABASE_URL` is set), with an account of every role in
//! two councils, and signs them in over HTTP.

#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::Arc;

use chrono::Datelike;
use cnis_app::service::entries::NewEntry;
use cnis_app::service::{Actor, Backend, NewAccount, Service, ServiceConfig};
use cnis_core::LaCode;
use cnis_core::register::{EntryContent, EntrySource, Parent, Role};
use reqwest::blocking::{Client, RequestBuilder};
use reqwest::redirect::Policy;

pub const PASSWORD: &str = "a long test password";

pub struct Server {
    pub backend: &'static str,
    pub base: String,
    pub service: Arc<Service>,
    pub runtime: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.service.db().drop_schema();
    }
}

fn start(backend: &'static str, config: ServiceConfig, dir: tempfile::TempDir) -> Server {
    let service = Arc::new(Service::open(config).expect("open the register"));
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let s = service.clone();
    let app = runtime
        .block_on(cnis_server::Application::build(
            s,
            cnis_server::ServerConfig {
                bind: "127.0.0.1:0".parse().expect("address"),
                secure_cookies: false,
                sign_ins_per_minute: 10_000,
                ..cnis_server::ServerConfig::default()
            },
        ))
        .expect("bind");
    let base = format!("http://{}", app.address());
    runtime.spawn(app.run_until(std::future::pending()));
    Server { backend, base, service, runtime, _dir: dir }
}

/// One server per backend.
pub fn servers() -> Vec<Server> {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = ServiceConfig::new(Backend::Sqlite(dir.path().join("register.db")));
    let mut out = vec![start("sqlite", config, dir)];
    if let Ok(url) = std::env::var("DATABASE_URL") {
        let dir = tempfile::tempdir().expect("temp dir");
        let schema = format!("t{}", cnis_core::ChildId::random(&mut rand::rng()).payload());
        let mut config = ServiceConfig::new(Backend::Postgres { url, schema: Some(schema) });
        config.secret_file = dir.path().join("secret");
        config.checkpoint_file = dir.path().join("audit-head");
        out.push(start("postgres", config, dir));
    }
    out
}

pub fn la(code: &str) -> LaCode {
    LaCode::parse(code).expect("LA")
}

/// The roles every test signs in as, by a short name.
pub const PEOPLE: &[(&str, Role, Option<&str>)] = &[
    ("caseworker", Role::Caseworker, Some("202")),
    ("team_manager", Role::TeamManager, Some("202")),
    ("council_admin", Role::CouncilAdmin, Some("202")),
    ("school", Role::School, Some("202")),
    ("caseworker_other", Role::Caseworker, Some("203")),
    ("team_manager_other", Role::TeamManager, Some("203")),
    ("partner", Role::Partner, None),
    ("national_analyst", Role::NationalAnalyst, None),
    ("auditor", Role::Auditor, None),
    ("inspector", Role::Inspector, None),
];

pub fn email(name: &str) -> String {
    format!("{name}@test.invalid")
}

/// Adds every account of [`PEOPLE`].
pub fn add_accounts(s: &Service) -> HashMap<&'static str, Actor> {
    let mut out = HashMap::new();
    for (name, role, council) in PEOPLE {
        let school = (*role == Role::School).then(|| format!("{}4001", council.unwrap_or("000")));
        s.add_account(
            None,
            &NewAccount {
                email: email(name),
                name: format!("Test {name}"),
                role: *role,
                council: council.map(la),
                school,
                password: (*role != Role::Partner).then(|| PASSWORD.to_string()),
            },
        )
        .expect("account");
        out.insert(*name, s.actor_for(&email(name)).expect("actor"));
    }
    out
}

pub fn dob_aged(years: i32) -> String {
    let t = chrono::Utc::now().date_naive();
    chrono::NaiveDate::from_ymd_opt(t.year() - years, 5, 9).expect("date").to_string()
}

pub fn content(given: &str, family: &str, dob: &str) -> EntryContent {
    EntryContent {
        given_name: given.into(),
        family_name: family.into(),
        dob: dob.into(),
        address: Some("7 Mill Lane".into()),
        postcode: Some("XB2 3CD".into()),
        parents: vec![Parent { name: "Pat Parent".into(), provides_education: true, ..Parent::default() }],
        ..EntryContent::default()
    }
}

/// A draft entry made by `by`; returns (entry id, child id).
pub fn draft(s: &Service, by: &Actor, given: &str, family: &str) -> (i64, String) {
    let v = s
        .create_entry(
            by,
            NewEntry {
                content: content(given, family, &dob_aged(11)),
                source: EntrySource::Hand,
                child_id: None,
                restricted: None,
            },
            "test",
        )
        .expect("entry");
    (v.entry.id, v.entry.child_id)
}

/// A signed-in HTTP client: a session cookie and its form token (people)
/// or an API token (partner systems).
pub struct Session {
    pub client: Client,
    pub base: String,
    pub cookie: Option<String>,
    pub csrf: Option<String>,
    pub bearer: Option<String>,
}

pub fn client() -> Client {
    Client::builder().redirect(Policy::none()).build().expect("client")
}

impl Session {
    pub fn anonymous(base: &str) -> Session {
        Session { client: client(), base: base.to_string(), cookie: None, csrf: None, bearer: None }
    }

    pub fn sign_in(server: &Server, name: &str, role: Role) -> Session {
        let mut s = Session::anonymous(&server.base);
        if role == Role::Partner {
            s.bearer = Some(server.service.issue_token(None, &email(name), "test").expect("token"));
            return s;
        }
        let r = s
            .client
            .post(format!("{}/api/v1/session", server.base))
            .json(&serde_json::json!({ "email": email(name), "password": PASSWORD }))
            .send()
            .expect("sign in");
        assert_eq!(r.status().as_u16(), 200, "sign in as {name}");
        let cookie = r
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|v| v.split(';').next().filter(|c| c.starts_with("cnis_session=")).map(str::to_string))
            .expect("session cookie");
        let body: serde_json::Value = r.json().expect("json");
        s.csrf = body.get("csrf").and_then(|c| c.as_str()).map(str::to_string);
        s.cookie = Some(cookie);
        s
    }

    fn auth(&self, b: RequestBuilder) -> RequestBuilder {
        let mut b = b;
        if let Some(c) = &self.cookie {
            b = b.header("cookie", c);
        }
        if let Some(t) = &self.bearer {
            b = b.header("authorization", format!("Bearer {t}"));
        }
        b
    }

    /// A request to `path` with the session's credentials and, for a
    /// change, its form token as the API expects it.
    pub fn request(&self, method: &str, path: &str) -> RequestBuilder {
        let url = format!("{}{path}", self.base);
        let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut b = self.auth(self.client.request(m, url));
        if method != "GET"
            && let Some(c) = &self.csrf
        {
            b = b.header("x-csrf-token", c);
        }
        b
    }

    /// A page form post with the form token as a field.
    pub fn form(&self, path: &str, fields: &[(&str, &str)]) -> RequestBuilder {
        let mut all: Vec<(String, String)> = fields.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        if let Some(c) = &self.csrf {
            all.push(("csrf".into(), c.clone()));
        }
        self.auth(self.client.post(format!("{}{path}", self.base))).form(&all)
    }

    /// A page's file upload (multipart), with the form token as a field.
    pub fn upload(&self, path: &str, file: &[u8]) -> RequestBuilder {
        let part = reqwest::blocking::multipart::Part::bytes(file.to_vec()).file_name("notices.csv");
        let mut form = reqwest::blocking::multipart::Form::new().part("file", part);
        if let Some(c) = &self.csrf {
            form = form.text("csrf", c.clone());
        }
        self.auth(self.client.post(format!("{}{path}", self.base))).multipart(form)
    }
}
