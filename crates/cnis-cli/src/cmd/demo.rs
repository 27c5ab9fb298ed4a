//! `cnis demo`: the whole idea in one command. Generate synthetic England,
//! load it, track it by UPN and with linkage, and set each result beside
//! the generator's truth, child by child.

#![allow(clippy::print_stdout)]

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use chrono::NaiveDate;
use cnis_app::load::{self, LoadRequest};
use cnis_app::reconcile::LinkOptions;
use cnis_app::service::{NewAccount, Service, ServiceConfig};
use cnis_app::track::{TrackReport, TrackRequest};
use cnis_core::LaCode;
use cnis_core::records::{Destination, SourceKind};
use cnis_core::register::Role;
use cnis_store::db::Backend;
use cnis_synth::score::{Class, Score, knowable};
use cnis_synth::truth::{TruthRow, read_truth};
use cnis_track::{Group, Settings};

use crate::cli::{DemoArgs, Global};
use crate::cmd::{ingest, synth};
use crate::progress::Bar;

pub fn run(args: DemoArgs, g: &Global) -> anyhow::Result<ExitCode> {
    let out = &args.out;
    let data = out.join("data");
    let results = out.join("results");
    let quarantine = out.join("quarantine");
    let db = out.join("cnis.db");
    // Only what the demo itself makes is removed.
    for p in [&data, &results, &quarantine] {
        if p.exists() {
            std::fs::remove_dir_all(p).with_context(|| format!("clearing {}", p.display()))?;
        }
    }
    for suffix in ["", "-journal", "-wal", "-shm"] {
        let f = out.join(format!("cnis.db{suffix}"));
        if f.exists() {
            std::fs::remove_file(&f).with_context(|| format!("removing {}", f.display()))?;
        }
    }
    let mut steps: Vec<(&str, f64)> = Vec::new();

    let t = Instant::now();
    let config = cnis_synth::SynthConfig {
        pupils: args.pupils,
        seed: args.seed,
        rates: cnis_synth::Rates::preset(&args.rates).context("unknown --rates preset")?,
        layout: if args.council_layout { cnis_synth::Layout::Council } else { cnis_synth::Layout::Standard },
        ..Default::default()
    };
    let manifest = synth::synthesise(config, &data, g)?;
    steps.push(("generate", t.elapsed().as_secs_f64()));

    let t = Instant::now();
    let mut store = ingest::open_store(&db)?;
    let bar = Bar::new(g);
    // A council's layout loads with the --map its manifest gives, as a
    // council's own export would with the map its officer writes once.
    let map_for = |format: &str| -> anyhow::Result<cnis_ingest::ColumnMap> {
        let text = manifest.council.as_ref().and_then(|c| c.map_args.get(format)).map_or("", String::as_str);
        Ok(cnis_ingest::ColumnMap::parse(text)?)
    };
    let req = |file: &str, format: &str| -> anyhow::Result<LoadRequest> {
        let regulations = manifest
            .regulations
            .iter()
            .find(|(f, _)| f == file)
            .and_then(|(_, y)| cnis_core::records::Regulations::parse(&y.to_string()));
        Ok(LoadRequest {
            quarantine_dir: quarantine.clone(),
            map: map_for(format)?,
            regulations,
            ..LoadRequest::new(data.join(file))
        })
    };
    let mut loaded = vec![
        load::load_schools(&mut store, &req(&manifest.schools, "schools")?)?,
        load::load_postcodes(&mut store, &req(&manifest.postcode_deprivation, "postcode_deprivation")?)?,
    ];
    let date_a = parse_date(&manifest.census_a_date)?;
    let date_b = parse_date(&manifest.census_b_date)?;
    loaded.push(load::load_census(&mut store, &req(&manifest.census_a, "census")?, date_a, &bar)?);
    loaded.push(load::load_census(&mut store, &req(&manifest.census_b, "census")?, date_b, &bar)?);
    for (kind, file) in &manifest.sources {
        let kind = SourceKind::from_name(kind).context("manifest names an unknown source")?;
        // A source the population has no rows of is not loaded: an empty
        // file is refused, as it would be from a council.
        if manifest.rows.iter().any(|(f, n)| f == file && *n == 0) {
            continue;
        }
        loaded.push(load::load_source(&mut store, &req(file, "source")?, kind, &bar)?);
    }
    steps.push(("ingest", t.elapsed().as_secs_f64()));

    let track = |store: &mut cnis_store::Store, link: bool, dir: &Path| {
        let r = TrackRequest {
            from: date_a,
            to: date_b,
            link: link.then(LinkOptions::default),
            out: dir.to_path_buf(),
            settings: Settings::default(),
        };
        cnis_app::track::track(store, &r, &bar)
    };
    let t = Instant::now();
    let by_upn = track(&mut store, false, &results)?;
    steps.push(("track by UPN", t.elapsed().as_secs_f64()));
    let t = Instant::now();
    let linked = track(&mut store, true, &results.join("linked"))?;
    steps.push(("track with linkage", t.elapsed().as_secs_f64()));
    bar.finish();
    let t = Instant::now();
    let register = demo_register(out, &store, &linked, &data.join(&manifest.postcode_areas))?;
    steps.push(("register", t.elapsed().as_secs_f64()));

    let truth = read_truth(&data.join(&manifest.truth))?;
    if !g.quiet {
        println!(
            "cnis demo: {} pupils on the spring {} census, tracked to spring {}",
            args.pupils,
            &manifest.census_a_date[..4],
            &manifest.census_b_date[..4]
        );
        println!();
        for l in &loaded {
            let s = l.read.stats;
            println!(
                "  loaded {:<28} {:>9} rows, {:>9} accepted, {:>5} rejected, {:>5} faulty fields",
                file_name(&l.file),
                s.rows_in,
                s.accepted,
                s.rejected,
                s.faults
            );
        }
        println!();
        println!("Matching on UPN alone. The truth column counts, for each destination, the leavers whose");
        println!("files say so (with or without their UPN); a leaver no file mentions can only be unknown.");
        show(&by_upn, &truth);
        println!("With probabilistic linkage as well (names, date of birth, postcode):");
        show(&linked, &truth);
        print_register(&register, out);
        let timing: Vec<String> = steps.iter().map(|(s, t)| format!("{s} {t:.1}s")).collect();
        println!("Time: {}", timing.join(", "));
        println!(
            "Outputs in {}: data/ (generated files), cnis.db, register.db (the register service), results/ (by UPN), results/linked/ (with linkage), quarantine/",
            out.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The national table beside the truth, the headline figures, and every
/// difference from the truth, child by child.
fn show(r: &TrackReport, truth: &[TruthRow]) {
    let found: Vec<(String, Destination)> = r
        .tracked
        .leavers
        .iter()
        .map(|l| {
            (l.pupil.upn.map(|u| u.to_string()).or_else(|| l.pupil.upn_text.clone()).unwrap_or_default(), l.destination)
        })
        .collect();
    let score = Score::of(truth, &found, knowable);
    let expected = |g: Group| match g {
        Group::Destination(d) => Some(score.counts(d).1),
        Group::AllLeavers => Some(score.count(|k, _| k != Class::NotLeaver)),
        Group::Cohort => Some(truth.iter().filter(|t| t.in_cohort).count() as u64),
    };
    println!("{}", r.summary.national_table(Some(&expected)));
    let (p, rc) = score.precision_recall(Destination::Unknown);
    println!(
        "  destination right for {:.2}% of leavers; the unknown-destination list is {:.2}% precise with {:.2}% recall",
        100.0 * score.destination_accuracy(),
        100.0 * p,
        100.0 * rc
    );
    let diffs = score.differences();
    if diffs.is_empty() {
        println!("  Every child is where the truth says.");
    } else {
        println!("  Differences from the truth, child by child:");
        for (k, f, n) in diffs.iter().take(12) {
            let what = match (k, f) {
                (Class::NotLeaver, Class::Left(d)) => {
                    format!("listed as leavers ({}) but on the next roll (e.g. moved school under a new UPN)", d.name())
                }
                (Class::Left(d), Class::NotLeaver) => format!("left ({}) but taken to be on the next roll", d.name()),
                (Class::Left(k), Class::Left(f)) => format!("listed as {} where the files say {}", f.name(), k.name()),
                (Class::NotLeaver, Class::NotLeaver) => continue,
            };
            println!("  {n:>7} {what}");
        }
        if diffs.len() > 12 {
            println!("  ... and {} smaller differences", diffs.len() - 12);
        }
    }
    println!();
}

fn file_name(p: &Path) -> String {
    p.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default()
}

fn parse_date(s: &str) -> anyhow::Result<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").with_context(|| format!("bad date {s:?} in the manifest"))
}

/// The password of every demo account: synthetic children only.
pub const DEMO_PASSWORD: &str = "demo-password-cnis";

/// The register the demo leaves behind.
struct DemoRegister {
    accounts: Vec<(String, Role, Option<String>)>,
    imports: Vec<(String, cnis_app::service::entries::ImportReport)>,
    partner_token: String,
    run: i64,
}

/// Fills `register.db`: accounts of every role in the three councils with
/// the most leavers, and each council's register drafted from its leavers.
fn demo_register(
    out: &Path,
    store: &cnis_store::Store,
    linked: &TrackReport,
    postcode_areas: &Path,
) -> anyhow::Result<DemoRegister> {
    for suffix in ["", "-journal", "-wal", "-shm", ".secret", ".audit-head"] {
        let f = out.join(format!("register.db{suffix}"));
        if f.exists() {
            std::fs::remove_file(&f).with_context(|| format!("removing {}", f.display()))?;
        }
    }
    let service = Service::open(ServiceConfig::new(Backend::Sqlite(out.join("register.db"))))
        .context("opening the demo register")?;
    // The postcode lookup, so that each draft's home is checked against
    // the council's area (eligibility condition A).
    let areas = std::fs::File::open(postcode_areas).with_context(|| format!("opening {}", postcode_areas.display()))?;
    let mut faults = 0usize;
    service
        .load_postcode_areas("postcode-areas.csv", std::io::BufReader::new(areas), |_| faults += 1)
        .map_err(|e| anyhow::anyhow!("loading the demo postcode lookup: {e}"))?;
    anyhow::ensure!(faults == 0, "the generated postcode lookup had {faults} rows that could not be loaded");
    let mut by_la: std::collections::BTreeMap<LaCode, (usize, Option<String>)> = Default::default();
    for l in &linked.tracked.leavers {
        if let Some(la) = l.la() {
            let e = by_la.entry(la).or_default();
            e.0 += 1;
            if e.1.is_none() {
                e.1 = l.pupil.laestab.map(|s| s.to_string());
            }
        }
    }
    let mut councils: Vec<(LaCode, usize, Option<String>)> = by_la.into_iter().map(|(la, (n, s))| (la, n, s)).collect();
    councils.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    councils.truncate(3);
    let mut accounts = Vec::new();
    let mut add = |email: String, role: Role, council: Option<LaCode>, school: Option<String>| -> anyhow::Result<()> {
        let a = NewAccount {
            email: email.clone(),
            name: format!("Demo {}", role.label().to_lowercase()),
            role,
            council,
            school,
            password: (role != Role::Partner).then(|| DEMO_PASSWORD.to_string()),
        };
        service.add_account(None, &a).map_err(|e| anyhow::anyhow!("demo account {email}: {e}"))?;
        accounts.push((email, role, council.map(|c| format!("{} {}", c, c.info().name))));
        Ok(())
    };
    for (la, _, school) in &councils {
        for role in [Role::Caseworker, Role::TeamManager, Role::CouncilAdmin] {
            add(format!("{}@{}.demo.invalid", role.code().replace('_', "-"), la), role, Some(*la), None)?;
        }
        if let Some(s) = school {
            add(format!("school@{la}.demo.invalid"), Role::School, Some(*la), Some(s.clone()))?;
        }
    }
    // A caseworker of a service shared by the first two councils, who
    // switches between them.
    if let [(first, _, _), (second, _, _), ..] = councils.as_slice() {
        let email = format!("shared-caseworker@{first}.demo.invalid");
        add(email.clone(), Role::Caseworker, Some(*first), None)?;
        service.add_council(None, &email, *second).map_err(|e| anyhow::anyhow!("demo shared account: {e}"))?;
    }
    add("analyst@national.demo.invalid".into(), Role::NationalAnalyst, None, None)?;
    add("auditor@national.demo.invalid".into(), Role::Auditor, None, None)?;
    add("inspector@inspectorate.demo.invalid".into(), Role::Inspector, None, None)?;
    add("partner@health.demo.invalid".into(), Role::Partner, None, None)?;
    let partner_token = service
        .issue_token(None, "partner@health.demo.invalid", "demo partner system")
        .map_err(|e| anyhow::anyhow!("demo token: {e}"))?;
    let mut imports = Vec::new();
    for (la, _, _) in &councils {
        let actor = service.actor_for(&format!("caseworker@{la}.demo.invalid")).map_err(|e| anyhow::anyhow!("{e}"))?;
        let r =
            service.import_leavers(&actor, store, linked.run).map_err(|e| anyhow::anyhow!("importing leavers: {e}"))?;
        imports.push((format!("{} {}", la, la.info().name), r));
    }
    Ok(DemoRegister { accounts, imports, partner_token, run: linked.run })
}

fn print_register(r: &DemoRegister, out: &Path) {
    println!("The register service ({}):", out.join("register.db").display());
    for (council, i) in &r.imports {
        println!(
            "  {council}: {} leavers, {} possibly not in school, {} past school age by now, {} drafts for caseworkers to confirm",
            i.leavers, i.not_in_school, i.past_school_age, i.drafts
        );
    }
    println!("  Demo accounts (password {DEMO_PASSWORD}):");
    for (email, role, council) in &r.accounts {
        println!("    {email:<40} {:<22} {}", role.label(), council.as_deref().unwrap_or("all councils"));
    }
    println!("  Partner system's API token: {}", r.partner_token);
    println!("  Check the audit chain: cnis audit verify --register {}", out.join("register.db").display());
    println!(
        "  Open it in a browser: cnis serve --register {} --analytics {}, then http://127.0.0.1:8080",
        out.join("register.db").display(),
        out.join("cnis.db").display()
    );
    println!("  (tracking run {} is the one with linkage; the import page makes drafts from it)", r.run);
    println!();
}
