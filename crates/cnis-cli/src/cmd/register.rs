//! `cnis user`, `cnis audit` and `cnis register`: the register service's
//! console commands, each one call into `cnis_app::service`.

#![allow(clippy::print_stdout)]

use std::io::{BufRead, Write};
use std::process::ExitCode;

use anyhow::Context;
use cnis_app::service::{NewAccount, Service, ServiceConfig, ServiceError};
use cnis_core::LaCode;
use cnis_core::register::Role;
use cnis_store::db::Backend;

use crate::cli::{AuditCommand, Global, RegisterCommand, RegisterDb, ServeArgs, UserCommand};

pub fn open_service(db: &RegisterDb) -> anyhow::Result<Service> {
    let backend = Backend::parse(&db.register);
    let described = backend.describe();
    let mut config = ServiceConfig::new(backend);
    if let Some(path) = &db.settings {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        config.apply_toml(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    }
    Service::open(config).with_context(|| format!("opening the register ({described})"))
}

fn explain(e: ServiceError) -> anyhow::Error {
    match e {
        ServiceError::Invalid(errors) => {
            let lines: Vec<String> = errors.iter().map(|f| format!("  {}: {}", f.field, f.message)).collect();
            anyhow::anyhow!("the input needs correcting:\n{}", lines.join("\n"))
        }
        other => anyhow::anyhow!(other),
    }
}

pub fn user(c: UserCommand, g: &Global) -> anyhow::Result<ExitCode> {
    match c {
        UserCommand::Add(a) => {
            let role = Role::parse(&a.role).with_context(|| {
                let all: Vec<&str> = Role::ALL.iter().map(|r| r.code()).collect();
                format!("--role must be one of {}", all.join(", "))
            })?;
            let council = a.council.as_deref().map(LaCode::parse).transpose().context("--council: not an LA code")?;
            let (password, shown) = match (role, a.password_stdin) {
                (Role::Partner, _) => (None, None),
                (_, true) => {
                    let mut line = String::new();
                    std::io::stdin().lock().read_line(&mut line).context("reading the password")?;
                    (Some(line.trim_end_matches(['\r', '\n']).to_string()), None)
                }
                (_, false) => {
                    let p = cnis_app::service::accounts::made_up_password();
                    (Some(p.clone()), Some(p))
                }
            };
            let service = open_service(&a.db)?;
            let account = NewAccount { email: a.email, name: a.name, role, council, school: a.school, password };
            let id = service.add_account(None, &account).map_err(explain)?;
            if !g.quiet {
                println!("account {id} added: {} ({})", account.email, role.label());
                if let Some(p) = shown {
                    println!("password (shown once): {p}");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        UserCommand::Council(a) => {
            let service = open_service(&a.db)?;
            if let Some(code) = &a.remove {
                let council = LaCode::parse(code).context("--remove: not an LA code")?;
                let user = service.actor_for(&a.email).map_err(explain)?;
                service.remove_council(None, user.user_id, council).map_err(explain)?;
                if !g.quiet {
                    println!("{} no longer acts for {} {}", a.email, council, council.info().name);
                }
                return Ok(ExitCode::SUCCESS);
            }
            let code = a.add.as_deref().unwrap_or_default();
            let council = LaCode::parse(code).context("--add: not an LA code")?;
            service.add_council(None, &a.email, council).map_err(explain)?;
            if !g.quiet {
                println!("{} may now act for {} {} too", a.email, council, council.info().name);
            }
            Ok(ExitCode::SUCCESS)
        }
        UserCommand::Token(a) => {
            let service = open_service(&a.db)?;
            let token = service.issue_token(None, &a.email, &a.label).map_err(explain)?;
            println!("{token}");
            Ok(ExitCode::SUCCESS)
        }
    }
}

pub fn audit(c: AuditCommand, g: &Global) -> anyhow::Result<ExitCode> {
    match c {
        AuditCommand::Verify(db) => {
            let service = open_service(&db)?;
            let v = service.verify_audit().map_err(explain)?;
            match v.first_broken {
                None => {
                    if !g.quiet {
                        println!("audit chain verified: {} rows, head {} ({})", v.rows, v.head.seq, &v.head.hash[..16]);
                    }
                    Ok(ExitCode::SUCCESS)
                }
                Some((seq, what)) => {
                    println!("audit chain BROKEN at row {seq}: {what} ({} rows checked before it)", seq - 1);
                    Ok(ExitCode::from(1))
                }
            }
        }
        AuditCommand::Export(a) => {
            let service = open_service(&a.db)?;
            let export = service.subject_access_export(None, &a.child_id).map_err(explain)?;
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create(true).truncate(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
            let mut f = options.open(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
            serde_json::to_writer_pretty(&mut f, &export)?;
            f.write_all(b"\n")?;
            if !g.quiet {
                println!(
                    "{} events and {} entries written to {}",
                    export.events.len(),
                    export.entries.len(),
                    a.out.display()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

pub fn register(c: RegisterCommand, g: &Global) -> anyhow::Result<ExitCode> {
    match c {
        RegisterCommand::Import(a) => {
            let service = open_service(&a.db)?;
            let actor = service.actor_for(&a.as_user).map_err(explain)?;
            let store = super::ingest::open_store(&g.db)?;
            let r = service.import_leavers(&actor, &store, a.run).map_err(explain)?;
            if !g.quiet {
                println!(
                    "tracking run {}: {} leavers of the council's schools, {} possibly not in school: {} past school age by now, {} drafts made, {} already on the register, {} without names on the census",
                    a.run,
                    r.leavers,
                    r.not_in_school,
                    r.past_school_age,
                    r.drafts,
                    r.already_on_register,
                    r.without_details
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        RegisterCommand::Postcodes(a) => {
            let service = open_service(&a.db)?;
            let file = std::fs::File::open(&a.file).with_context(|| format!("opening {}", a.file.display()))?;
            let len = file.metadata().map(|m| m.len()).unwrap_or(0);
            let bar = crate::progress::bytes(g, len, "reading postcodes");
            let mut quarantine = csv::Writer::from_path(&a.quarantine)
                .with_context(|| format!("creating {}", a.quarantine.display()))?;
            quarantine.write_record(["line", "field", "reason"])?;
            let mut write_error = None;
            let source = a.file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let load = service
                .load_postcode_areas(&source, std::io::BufReader::new(bar.wrap_read(file)), |f| {
                    if let Err(e) = quarantine.write_record([f.line.to_string().as_str(), f.field, f.reason]) {
                        write_error.get_or_insert(e);
                    }
                })
                .map_err(explain)?;
            bar.finish_and_clear();
            if let Some(e) = write_error {
                return Err(anyhow::anyhow!(e).context(format!("writing {}", a.quarantine.display())));
            }
            quarantine.flush().with_context(|| format!("writing {}", a.quarantine.display()))?;
            if !g.quiet {
                println!(
                    "{} rows read: {} postcodes in England's councils loaded, {} given again, {} outside England, {} not loaded (see {})",
                    load.rows_read,
                    load.loaded,
                    load.duplicates,
                    load.outside,
                    load.quarantined,
                    a.quarantine.display()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        RegisterCommand::Sweep(a) => {
            let service = open_service(&a.db)?;
            let today = a.today.unwrap_or_else(|| chrono::Utc::now().date_naive());
            let (left, deleted) = service.sweep(today).map_err(explain)?;
            let escalated = service.escalate_overdue(today).map_err(explain)?;
            if !g.quiet {
                println!(
                    "{left} children left the register (past compulsory school age); {deleted} entries deleted after retention; {escalated} overdue cases escalated to team managers"
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

pub fn serve(a: ServeArgs, g: &Global) -> anyhow::Result<ExitCode> {
    let service = std::sync::Arc::new(open_service(&a.db)?);
    let described = service.describe_backend();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the runtime")?;
    runtime.block_on(async move {
        let config = cnis_server::ServerConfig {
            bind: a.bind,
            analytics: a.analytics,
            secure_cookies: !a.insecure_cookies,
            ..cnis_server::ServerConfig::default()
        };
        let app = cnis_server::Application::build(service.clone(), config)
            .await
            .with_context(|| format!("listening on {}", a.bind))?;
        if !g.quiet {
            println!("cnis register service on http://{} ({described})", app.address());
            println!("  pages at /, API at /api/v1, OpenAPI document at /api/openapi.json; Ctrl-C stops it");
        }
        tokio::spawn(cnis_server::sweep_daily(service));
        app.run_until(cnis_server::shutdown_signal()).await.context("serving")?;
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}
