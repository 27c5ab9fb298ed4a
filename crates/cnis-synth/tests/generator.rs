//! The generator does what `docs/synth.md` says: rates land near their
//! settings, twins share what they should, subsidiary rows come before main
//! rows some of the time, stale rows predate the child's entry, every
//! mistyped UPN fails its check, the truth's knowable destination follows
//! from the rows, the council layout reads back to the same values, and the
//! same seed gives the same files whatever the thread count.
//!
//! Debug builds are slow, so one noisy population (the hard preset) is
//! generated once and shared; the other tests use a few thousand pupils.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use chrono::NaiveDate;
use cnis_core::Upn;
use cnis_core::records::{Confidence, Destination, GroundText, Regulations, SourceKind};
use cnis_synth::truth::{TruthRow, read_truth};
use cnis_synth::{Fate, Knowable, Layout, Manifest, Phase, Population, Rates, SynthConfig, generate, write};

/// A CSV file read whole, the byte-order mark dropped.
struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    fn read(path: &Path) -> Table {
        let bytes = std::fs::read(path).expect("file");
        let bytes = bytes.strip_prefix("\u{feff}".as_bytes()).unwrap_or(&bytes);
        let mut rdr = csv::Reader::from_reader(bytes);
        let headers = rdr.headers().expect("header").iter().map(str::to_string).collect();
        let rows = rdr.records().map(|r| r.expect("row").iter().map(str::to_string).collect()).collect();
        Table { headers, rows }
    }

    fn col(&self, name: &str) -> usize {
        self.headers.iter().position(|h| h == name).unwrap_or_else(|| panic!("no column {name}"))
    }
}

struct Fixture {
    _dir: tempfile::TempDir,
    dir: PathBuf,
    pop: Population,
    manifest: Manifest,
    truth: Vec<TruthRow>,
}

impl Fixture {
    fn new(config: SynthConfig) -> Fixture {
        let dir = tempfile::tempdir().expect("temp dir");
        let pop = generate(config).expect("generates");
        let manifest = write(&pop, dir.path()).expect("writes");
        let truth = read_truth(&dir.path().join(&manifest.truth)).expect("truth");
        Fixture { dir: dir.path().to_path_buf(), _dir: dir, pop, manifest, truth }
    }

    fn table(&self, file: &str) -> Table {
        Table::read(&self.dir.join(file))
    }
}

/// The hard preset at 20,000 pupils, with the linkage file.
static HARD: LazyLock<Fixture> = LazyLock::new(|| {
    Fixture::new(SynthConfig {
        pupils: 20_000,
        seed: 11,
        rates: Rates::hard(),
        linkage_file: true,
        ..SynthConfig::default()
    })
});

/// `observed` out of `n` is within five standard deviations of rate `p`
/// (`clump` widens it where cases come in pairs).
fn near(what: &str, observed: usize, n: usize, p: f64, clump: f64) {
    let expected = n as f64 * p;
    let sd = (n as f64 * p * (1.0 - p)).sqrt() * clump.sqrt();
    let diff = (observed as f64 - expected).abs();
    assert!(
        diff <= 5.0 * sd + 2.0,
        "{what}: {observed} of {n} ({:.4}), expected about {expected:.1} ({p})",
        observed as f64 / n.max(1) as f64
    );
}

fn fails_check(upn: &str) -> bool {
    !upn.is_empty() && Upn::parse(upn).is_err()
}

fn date(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
}

#[test]
fn leavers_land_near_their_rates() {
    let f = &*HARD;
    let rates = &f.pop.config.rates;
    let pupils = f.pop.config.pupils as f64;
    for &(d, rate) in &rates.leavers {
        let found = f.truth.iter().filter(|t| t.in_cohort && t.fate == d.name()).count() as f64;
        let expected = rate * pupils;
        // Each LA's count is apportioned exactly; rounding moves it a little.
        assert!((found - expected).abs() <= expected * 0.03 + 3.0, "{}: {found} against {expected:.0}", d.name());
    }
}

#[test]
fn census_rates_land_near_their_settings() {
    let f = &*HARD;
    let r = &f.pop.config.rates;
    let on_a: Vec<_> = f.pop.children.iter().filter(|c| c.a.is_some()).collect();
    let on_b: Vec<_> = f.pop.children.iter().filter(|c| c.b.is_some()).collect();
    // Twins: a share of the first roll (pairs, so twice the spread).
    let twins = on_a.iter().filter(|c| c.twin.is_some()).count();
    near("twins", twins, on_a.len(), r.twins, 2.0);

    // Dual registration among pupils in Years 5-11 at mainstream schools.
    let eligible: Vec<_> = on_a
        .iter()
        .filter_map(|c| c.a.as_ref())
        .filter(|e| (5..=11).contains(&e.nc_year))
        .filter(|e| matches!(f.pop.england.schools[e.school as usize].phase, Phase::Primary | Phase::Secondary))
        .collect();
    let duals: Vec<_> = eligible.iter().filter_map(|e| e.dual.as_ref()).collect();
    near("dual registration", duals.len(), eligible.len(), r.dual_registration, 1.0);
    near("both main", duals.iter().filter(|d| d.both_main).count(), duals.len(), r.both_main, 1.0);

    // Mistyped UPNs, counted in the files.
    for (file, n, p) in [
        (&f.manifest.census_a, on_a.len(), r.census_a_upn_mistyped),
        (&f.manifest.census_b, on_b.len(), r.census_b_upn_mistyped),
    ] {
        let t = f.table(file);
        let upn = t.col("UPN");
        let bad = t.rows.iter().filter(|row| fails_check(&row[upn])).count();
        near(file, bad, n, p, 1.0);
    }
    let duplicates = f.truth.iter().filter(|t| t.duplicate_row.contains('B')).count();
    let single_b = on_b.iter().filter(|c| c.b.as_ref().is_some_and(|b| b.dual.is_none())).count();
    near("duplicate rows", duplicates, single_b, r.duplicate_row, 1.0);
    let wrong = f.truth.iter().filter(|t| t.wrong_former_upn.is_some()).count();
    // A few draws are refused (a twin, a child already used), so allow a little under.
    near("wrong former UPN", wrong, on_b.len(), r.wrong_former_upn * 0.97, 1.0);
    let on_b_cohort = f.pop.children.iter().filter(|c| c.in_cohort && c.a.is_some() && c.b.is_some()).count();
    let register = f.truth.iter().filter(|t| t.register_on_roll).count();
    near("register rows for children on roll", register, on_b_cohort, r.register_on_roll, 1.0);
}

#[test]
fn upns_in_lists_are_blank_or_mistyped_at_their_rates() {
    let f = &*HARD;
    let r = &f.pop.config.rates;
    let fate: HashMap<&str, &str> = f.truth.iter().map(|t| (t.upn1.as_str(), t.fate.as_str())).collect();
    let by_id: HashMap<u64, &TruthRow> = f.truth.iter().map(|t| (t.truth_id, t)).collect();
    let link = f.table("linkage.csv");
    let (source, upn, truth) = (link.col("source"), link.col("upn"), link.col("truth"));
    let mut counts: HashMap<SourceKind, (usize, usize, usize)> = HashMap::new();
    for row in &link.rows {
        let kind = SourceKind::ALL.into_iter().find(|k| row[source].starts_with(k.name()));
        let Some(kind) = kind else { continue };
        let t = by_id[&row[truth].parse::<u64>().expect("truth id")];
        // Children on neither census have their own, lower, UPN shares.
        if fate.get(t.upn1.as_str()) == Some(&"not_on_roll") {
            continue;
        }
        let e = counts.entry(kind).or_default();
        e.0 += 1;
        e.1 += usize::from(row[upn].is_empty());
        e.2 += usize::from(fails_check(&row[upn]));
    }
    for kind in SourceKind::ALL {
        let (n, blank, mistyped) = counts.get(&kind).copied().unwrap_or_default();
        assert!(n > 30, "{}: only {n} rows", kind.name());
        near(&format!("{} blank", kind.name()), blank, n, r.upn_blank.get(kind), 1.5);
        near(&format!("{} mistyped", kind.name()), mistyped, n, r.upn_mistyped.get(kind), 1.5);
    }
}

#[test]
fn every_mistyped_upn_fails_the_check_and_no_upn_is_another_childs() {
    let f = &*HARD;
    let link = f.table("linkage.csv");
    let (source, upn, former, truth) = (link.col("source"), link.col("upn"), link.col("former_upn"), link.col("truth"));
    let by_id: HashMap<u64, &TruthRow> = f.truth.iter().map(|t| (t.truth_id, t)).collect();
    let mut mistyped = 0;
    for row in &link.rows {
        let t = by_id[&row[truth].parse::<u64>().expect("truth id")];
        let written = row[upn].as_str();
        if written.is_empty() {
            continue;
        }
        let own = written == t.upn1 || written == t.upn2;
        assert!(own || fails_check(written), "{}: {written} is a valid UPN not the child's own", row[source]);
        mistyped += usize::from(!own);
        // Former UPNs are always valid numbers (the wrong ones are another child's).
        assert!(row[former].is_empty() || Upn::parse(&row[former]).is_ok());
    }
    assert!(mistyped > 100, "only {mistyped} mistyped UPNs");
    // The truth marks exactly the census rows whose UPN was mistyped.
    for (census, letter) in [(&f.manifest.census_a, 'A'), (&f.manifest.census_b, 'B')] {
        let t = f.table(census);
        let u = t.col("UPN");
        // A row returned twice repeats its mistyped UPN.
        let bad: HashSet<&str> = t.rows.iter().filter(|r| fails_check(&r[u])).map(|r| r[u].as_str()).collect();
        let flagged = f.truth.iter().filter(|t| t.upn_mistyped.contains(letter)).count();
        assert_eq!(bad.len(), flagged, "{census}");
    }
}

#[test]
fn twins_share_a_household_and_birthday_but_not_names_or_upns() {
    let f = &*HARD;
    let pop = &f.pop;
    let mut pairs = 0;
    let mut one_left = 0;
    for (i, c) in pop.children.iter().enumerate() {
        let Some(j) = c.twin.map(|j| j as usize) else { continue };
        let t = &pop.children[j];
        assert_eq!(t.twin, Some(i as u32), "twins point at each other");
        if j < i {
            continue;
        }
        pairs += 1;
        assert_eq!((c.dob, c.surname, c.surname2, c.ethnicity), (t.dob, t.surname, t.surname2, t.ethnicity));
        assert!(
            !cnis_synth::are_variants(pop.forename(c), pop.forename(t)),
            "{} / {}",
            pop.forename(c),
            pop.forename(t)
        );
        let (Some(a), Some(b)) = (c.a.as_ref().or(c.b.as_ref()), t.a.as_ref().or(t.b.as_ref())) else { continue };
        assert_eq!(a.home, b.home, "same household");
        assert_ne!(a.upn, b.upn);
        if let (Some(x), Some(y)) = (&c.b, &t.b)
            && x.home.la == y.home.la
        {
            assert_eq!(x.home, y.home, "a household moves together");
        }
        let left = |c: &cnis_synth::Child| matches!(c.fate, Fate::Left(_));
        one_left += usize::from(left(c) != left(t) && c.in_cohort && t.in_cohort);
    }
    assert!(pairs > 1000, "{pairs} pairs");
    assert!(one_left > 5, "a twin leaving while the other stays: {one_left}");

    // In the first census file: same date of birth and address line, different UPN.
    let census = f.table(&f.manifest.census_a);
    let (upn, dob, address, forename) =
        (census.col("UPN"), census.col("DOB"), census.col("AddressLine1"), census.col("Forename"));
    let rows: HashMap<&str, &Vec<String>> = census.rows.iter().map(|r| (r[upn].as_str(), r)).collect();
    let mut checked = 0;
    for t in f.truth.iter().filter(|t| t.twin.is_some() && !t.upn1.is_empty()) {
        let other = &f.truth[t.twin.expect("twin") as usize];
        let (Some(x), Some(y)) = (rows.get(t.upn1.as_str()), rows.get(other.upn1.as_str())) else { continue };
        assert_eq!((&x[dob], &x[address]), (&y[dob], &y[address]));
        assert_ne!(x[forename], y[forename]);
        checked += 1;
    }
    assert!(checked > 1000);
}

#[test]
fn subsidiary_rows_come_before_main_rows_some_of_the_time() {
    let f = &*HARD;
    let phases: HashMap<String, String> = {
        let s = f.table(&f.manifest.schools);
        let (l, p) = (s.col("LAESTAB"), s.col("Phase"));
        s.rows.iter().map(|r| (r[l].clone(), r[p].clone())).collect()
    };
    for census in [&f.manifest.census_a, &f.manifest.census_b] {
        let t = f.table(census);
        let (upn, status, laestab, possible) =
            (t.col("UPN"), t.col("EnrolStatus"), t.col("LAESTAB"), t.col("SessionsPossible"));
        let mut lines: HashMap<&str, Vec<(usize, &Vec<String>)>> = HashMap::new();
        for (line, r) in t.rows.iter().enumerate() {
            lines.entry(r[upn].as_str()).or_default().push((line, r));
        }
        let (mut s_first, mut pairs, mut both_main) = (0, 0, 0);
        for rows in lines.values().filter(|v| v.len() == 2) {
            let main = rows.iter().find(|(_, r)| r[status] == "M");
            let sub = rows.iter().find(|(_, r)| r[status] == "S");
            if let (Some((m_line, m)), Some((s_line, s))) = (main, sub) {
                pairs += 1;
                s_first += usize::from(s_line < m_line);
                assert_eq!(phases[&s[laestab]], "PR", "the subsidiary school is a PRU");
                // The main row carries the term's attendance.
                let (mp, sp): (u16, u16) = (m[possible].parse().expect("n"), s[possible].parse().expect("n"));
                assert!(mp > sp, "main {mp}, subsidiary {sp}");
                assert!(m_line.abs_diff(*s_line) > 0);
            }
            if rows.iter().all(|(_, r)| r[status] == "M") {
                both_main += 1;
            }
        }
        assert!(pairs > 100, "{census}: {pairs} dual registrations");
        near("S before M", s_first, pairs, f.pop.config.rates.subsidiary_first, 1.0);
        let letter = if census == &f.manifest.census_a { 'A' } else { 'B' };
        let flagged = f.truth.iter().filter(|t| t.both_main.contains(letter)).count();
        // Both-main rows carrying a mistyped UPN on one of them are not counted by UPN.
        assert!(both_main <= flagged && both_main + flagged / 10 + 2 >= flagged, "{both_main} / {flagged}");
        // Real duplicates: two C rows with one UPN.
        let dups = lines.values().filter(|v| v.len() == 2 && v.iter().all(|(_, r)| r[status] == "C")).count();
        let flagged = f.truth.iter().filter(|t| t.duplicate_row.contains(letter)).count();
        assert!(dups <= flagged && dups + flagged / 10 + 2 >= flagged, "{dups} / {flagged}");
    }
}

#[test]
fn stale_rows_predate_the_childs_entry_and_give_no_destination() {
    let f = &*HARD;
    let pop = &f.pop;
    let mut stale = 0;
    for r in pop.rows.iter().filter(|r| r.stale) {
        stale += 1;
        let c = &pop.children[r.child as usize];
        let a = c.a.as_ref().expect("stale rows are about children on the first roll");
        match r.kind {
            SourceKind::AlternativeProvision => {
                assert!(r.end_date.expect("ended") < pop.census_a, "placement ended before the first census");
            }
            _ => {
                let d = r.date.expect("a stale row has its date");
                assert!(d < a.entry_date, "{d} is not before the entry {}", a.entry_date);
                if let Some(end) = r.end_date {
                    assert!(end < a.entry_date);
                }
                if let Some(b) = c.b.as_ref().filter(|b| b.school == a.school) {
                    assert!(d < b.entry_date);
                }
            }
        }
    }
    assert!(stale > 100, "{stale} stale rows");
    let leavers_with = f.truth.iter().filter(|t| t.is_leaver() && t.stale_rows > 0).count();
    assert!(leavers_with > 20, "{leavers_with} leavers with stale rows");
    // The census shows the later entry date.
    let census = f.table(&f.manifest.census_a);
    let (upn, entry) = (census.col("UPN"), census.col("EntryDate"));
    let entries: HashMap<&str, &str> = census.rows.iter().map(|r| (r[upn].as_str(), r[entry].as_str())).collect();
    for r in pop.rows.iter().filter(|r| r.stale && r.kind != SourceKind::AlternativeProvision) {
        let c = &pop.children[r.child as usize];
        let Some(a) = &c.a else { continue };
        if let (Some(e), Some(d)) = (entries.get(a.upn.as_str()).and_then(|e| date(e)), r.date) {
            assert!(d < e);
        }
    }
}

#[test]
fn the_knowable_destination_follows_from_current_rows() {
    let f = &*HARD;
    let pop = &f.pop;
    let mut rows_of: HashMap<u64, Vec<&cnis_synth::SourceRow>> = HashMap::new();
    for r in &pop.rows {
        rows_of.entry(r.child).or_default().push(r);
    }
    let mut by_knowable: HashMap<&str, usize> = HashMap::new();
    for c in pop.children.iter().filter(|c| c.in_cohort && c.a.is_some()) {
        *by_knowable.entry(c.knowable.name()).or_default() += 1;
        match (c.fate, c.knowable) {
            (_, Knowable::OnRoll) => assert!(c.b.is_some()),
            (Fate::Left(d), Knowable::Destination(k)) => {
                assert!(k == d || k == Destination::Unknown, "{} knowable as {}", d.name(), k.name());
                let current = rows_of
                    .get(&c.truth_id)
                    .map_or(0, |v| v.iter().filter(|r| !r.stale && r.kind != SourceKind::SocialCare).count());
                if k != Destination::Unknown {
                    assert!(current > 0 && c.evidence);
                }
                if current == 0 {
                    assert_eq!(k, Destination::Unknown, "no current row, so unknown");
                }
            }
            (fate, k) => panic!("{fate:?} with {k:?}"),
        }
    }
    for d in ["on_roll", "unknown", "home_education", "cme", "alternative_provision", "independent_school"] {
        assert!(by_knowable.get(d).copied().unwrap_or(0) > 0, "no child knowable as {d}");
    }
    // The truth file says the same, and so do its fate and evidence flags.
    for t in f.truth.iter().filter(|t| t.in_cohort) {
        let c = &pop.children[t.truth_id as usize];
        assert_eq!(t.knowable, c.knowable.name());
        assert_eq!(t.twin, c.twin.map(u64::from));
        let from_flags = TruthRow { knowable: String::new(), ..t.clone() };
        assert_eq!(cnis_synth::score::knowable(t), cnis_synth::score::knowable(&from_flags));
    }
}

#[test]
fn wrong_former_upns_point_at_unrelated_children_leavers_among_them() {
    let f = &*HARD;
    let census = f.table(&f.manifest.census_b);
    let (upn, former) = (census.col("UPN"), census.col("FormerUPN"));
    let formers: HashMap<&str, &str> = census.rows.iter().map(|r| (r[upn].as_str(), r[former].as_str())).collect();
    let (mut carriers, mut leavers, mut cme) = (0, 0, 0);
    for t in f.truth.iter().filter(|t| t.wrong_former_upn.is_some()) {
        let victim = &f.truth[t.wrong_former_upn.expect("victim") as usize];
        assert_eq!(victim.former_upn_victim, Some(t.truth_id));
        if let Some(written) = formers.get(t.upn2.as_str()) {
            assert_eq!(*written, victim.upn1);
        }
        let (c, v) = (&f.pop.children[t.truth_id as usize], &f.pop.children[victim.truth_id as usize]);
        assert!(c.twin != Some(victim.truth_id as u32) && (c.dob != v.dob || c.surname != v.surname));
        carriers += 1;
        leavers += usize::from(victim.is_leaver());
        cme += usize::from(victim.fate == "cme");
    }
    assert!(carriers > 25, "{carriers} carriers");
    assert!(leavers * 3 > carriers, "{leavers} of {carriers} are leavers' UPNs");
    let _ = cme;
}

#[test]
fn social_care_episodes_have_dates_and_the_truth_reads_them() {
    let f = &*HARD;
    let pop = &f.pop;
    let (a, b) = (pop.census_a, pop.census_b);
    let mut open_on_a: HashMap<u64, &str> = HashMap::new();
    let mut open_between: HashMap<u64, &str> = HashMap::new();
    let order = ["CIN", "S47", "CPP", "CLA"];
    let more = |x: &str, y: &str| order.iter().position(|o| *o == x) > order.iter().position(|o| *o == y);
    let (mut ended_before_a, mut open) = (0, 0);
    for r in pop.rows.iter().filter(|r| r.kind == SourceKind::SocialCare) {
        let status = r.status.expect("status");
        assert!(order.contains(&status));
        let start = r.date.expect("start");
        if let Some(end) = r.end_date {
            assert!(end >= start);
            ended_before_a += usize::from(end < a);
        } else {
            open += 1;
        }
        let keep = |m: &mut HashMap<u64, &'static str>| {
            let e = m.entry(r.child).or_insert(status);
            if more(status, e) {
                *e = status;
            }
        };
        if start <= a && r.end_date.is_none_or(|e| e >= a) {
            keep(&mut open_on_a);
        }
        if start <= b && r.end_date.is_none_or(|e| e >= a) {
            keep(&mut open_between);
        }
    }
    assert!(ended_before_a > 50 && open > 50, "{ended_before_a} ended, {open} open");
    for t in &f.truth {
        assert_eq!(t.social_care_a, open_on_a.get(&t.truth_id).copied().unwrap_or(""), "child {}", t.truth_id);
        assert_eq!(t.social_care, open_between.get(&t.truth_id).copied().unwrap_or(""), "child {}", t.truth_id);
    }
}

#[test]
fn independent_roll_gives_a_urn_or_a_laestab() {
    let f = &*HARD;
    let schools = f.table(&f.manifest.schools);
    let (urn_col, sector) = (schools.col("URN"), schools.col("Sector"));
    let independent: HashSet<&str> =
        schools.rows.iter().filter(|r| r[sector] == "independent").map(|r| r[urn_col].as_str()).collect();
    let roll = f.table("independent-roll.csv");
    let (urn, laestab) = (roll.col("URN"), roll.col("LAESTAB"));
    let urn_only = roll.rows.iter().filter(|r| r[laestab].is_empty()).count();
    assert!(urn_only * 5 > roll.rows.len(), "{urn_only} of {} by URN only", roll.rows.len());
    for r in &roll.rows {
        assert!(!r[urn].is_empty() || !r[laestab].is_empty());
        assert!(r[urn].is_empty() || independent.contains(r[urn].as_str()));
    }
}

#[test]
fn alternative_provision_placements() {
    let f = &*HARD;
    let pop = &f.pop;
    let (mut leavers, mut on_roll, mut ended) = (0, 0, 0);
    for r in pop.rows.iter().filter(|r| r.kind == SourceKind::AlternativeProvision && !r.stale) {
        let c = &pop.children[r.child as usize];
        assert!(r.provider.is_some() && r.hours > 0);
        match c.fate {
            Fate::Left(d) => {
                assert_eq!(d, Destination::AlternativeProvision);
                assert!(r.date.expect("start") > pop.census_a && r.end_date.is_none_or(|e| e > pop.census_b));
                leavers += 1;
            }
            _ => {
                assert!(c.b.is_some() && c.has(cnis_synth::flags::SCHOOL_AP), "school-arranged: on roll");
                ended += usize::from(r.end_date.is_some_and(|e| e < pop.census_b));
                on_roll += 1;
            }
        }
    }
    assert!(leavers > 3 && on_roll > 50 && ended > 15, "{leavers} leavers, {on_roll} on roll, {ended} ended");
    // Most AP leavers were permanently excluded, and their notice says so.
    let excluded = pop
        .rows
        .iter()
        .filter(|r| r.ground.is_some_and(|g| g.meaning() == cnis_core::records::GroundMeaning::PermanentlyExcluded))
        .count();
    assert!(excluded > 10);
}

#[test]
fn names_are_written_as_lists_write_them() {
    let f = &*HARD;
    let pop = &f.pop;
    let link = f.table("linkage.csv");
    let (source, forename, surname, truth) =
        (link.col("source"), link.col("forename"), link.col("surname"), link.col("truth"));
    let (mut with_nicknames, mut nickname, mut middle, mut barrelled, mut one_part) = (0, 0, 0, 0, 0);
    for r in link.rows.iter().filter(|r| !r[source].starts_with("census")) {
        let c = &pop.children[r[truth].parse::<usize>().expect("id")];
        let formal = pop.forename(c);
        if !cnis_synth::nicknames(formal).is_empty() {
            with_nicknames += 1;
            nickname += usize::from(cnis_synth::nicknames(formal).contains(&r[forename].as_str()));
        }
        middle += usize::from(pop.middle_name(c).is_some_and(|m| m == r[forename] && m != formal));
        if let Some(s2) = c.surname2 {
            barrelled += 1;
            one_part += usize::from(r[surname] == pop.surname(s2));
        }
    }
    let r = &pop.config.rates;
    // Typos and swaps spoil a few, so allow a little under.
    assert!(nickname as f64 > with_nicknames as f64 * r.nickname * 0.8, "{nickname} of {with_nicknames}");
    assert!(middle > 50 && one_part > 20 && barrelled > 200, "{middle} middle names, {one_part} of {barrelled}");
}

#[test]
fn rates_by_name() {
    let mut r = Rates::default();
    r.set("twins", 0.25).expect("known");
    r.set_text("upn_blank.cme = 0.5").expect("known");
    r.set("leavers.home_education", 0.01).expect("known");
    assert_eq!((r.twins, r.upn_blank.cme), (0.25, 0.5));
    assert!(r.list().contains(&("leavers.home_education".to_string(), 0.01)));
    assert!(r.set("no_such_rate", 0.1).is_err());
    assert!(r.set("twins", 1.5).is_err());
    assert!(r.set_text("twins").is_err());
    let names: Vec<String> = Rates::default().list().into_iter().map(|x| x.0).collect();
    let unique: HashSet<&String> = names.iter().collect();
    assert_eq!(unique.len(), names.len());
    // Every rate is at least as high in the hard preset.
    let hard: HashMap<String, f64> = Rates::hard().list().into_iter().collect();
    // (Twins leave together less often there, so more leave alone.)
    for (name, v) in Rates::default().list() {
        assert!(hard[&name] >= v || name == "twins_leave_together", "{name}");
    }
    assert!(Rates::preset("twin-heavy").expect("preset").twins > 0.3);
    assert!(Rates::PRESETS.iter().all(|p| Rates::preset(p).is_some()));
}

#[test]
fn deletion_grounds_follow_the_regulations_in_force() {
    // The first census in January 2024: deletions fall either side of 19 August 2024.
    let f = Fixture::new(SynthConfig {
        pupils: 8_000,
        seed: 5,
        first_year: 2023,
        rates: Rates::hard(),
        ..SynthConfig::default()
    });
    let changeover = Regulations::changeover();
    let mut seen = HashSet::new();
    let mut unconfirmed = 0;
    let mut total = 0;
    for r in f.pop.rows.iter().filter(|r| r.kind == SourceKind::Deletion) {
        let g = r.ground.expect("a ground");
        total += 1;
        unconfirmed += usize::from(g.confidence() == Confidence::Unconfirmed);
        if let Some(d) = r.date {
            assert_eq!(g.regulations(), Regulations::in_force_on(d));
            seen.insert(g.regulations());
        }
    }
    assert_eq!(seen.len(), 2, "both sets used");
    assert!(unconfirmed * 100 < total * 2, "{unconfirmed} of {total} unconfirmed grounds");
    // In the main file: full forms and bare letters, each full form naming the set in force.
    let t = f.table("deletions.csv");
    let (ground, date_col) = (t.col("DeletionGround"), t.col("Date"));
    let (mut full, mut bare) = (0, 0);
    for r in &t.rows {
        let text = GroundText::parse(&r[ground]).expect("parses");
        let d = date(&r[date_col]).expect("main file rows are dated");
        match text.regulations {
            Some(regs) => {
                full += 1;
                assert_eq!(regs, Regulations::in_force_on(d));
            }
            None => bare += 1,
        }
    }
    assert!(full > 0 && bare > 0);
    // Files of bare letters, one set each, some rows undated.
    assert!(!f.manifest.regulations.is_empty());
    for (file, year) in &f.manifest.regulations {
        let regs = Regulations::parse(&year.to_string()).expect("a year");
        let t = f.table(file);
        let (ground, date_col) = (t.col("DeletionGround"), t.col("Date"));
        for r in &t.rows {
            assert_eq!(GroundText::parse(&r[ground]).expect("parses").regulations, None, "bare letters only");
            if let Some(d) = date(&r[date_col]) {
                assert_eq!(d < changeover, regs == Regulations::Pupil2006, "{file}: {d}");
            }
        }
        assert!(f.manifest.sources.iter().any(|(k, name)| k == "deletions" && name == file));
    }
    let undated: usize = f
        .manifest
        .regulations
        .iter()
        .map(|(file, _)| {
            let t = f.table(file);
            let c = t.col("Date");
            t.rows.iter().filter(|r| r[c].is_empty()).count()
        })
        .sum();
    assert!(undated > 0);
}

#[test]
fn the_council_layout_holds_the_same_values() {
    let config = SynthConfig { pupils: 3_000, seed: 9, rates: Rates::hard(), ..SynthConfig::default() };
    let ours = Fixture::new(config.clone());
    let theirs = Fixture::new(SynthConfig { layout: Layout::Council, ..config });
    let council = theirs.manifest.council.clone().expect("the council layout is described");
    let uk = |s: &str| match (s.get(0..2), s.get(3..5), s.get(6..10)) {
        (Some(d), Some(m), Some(y)) if s.len() == 10 && s.as_bytes()[2] == b'/' && s.as_bytes()[5] == b'/' => {
            format!("{y}-{m}-{d}")
        }
        _ => s.to_string(),
    };
    let files: Vec<(&str, &String)> = [
        ("census", &ours.manifest.census_a),
        ("census", &ours.manifest.census_b),
        ("schools", &ours.manifest.schools),
        ("postcode_deprivation", &ours.manifest.postcode_deprivation),
    ]
    .into_iter()
    .chain(ours.manifest.sources.iter().map(|(_, f)| ("source", f)))
    .collect();
    let mut quoted_commas = false;
    for (format, file) in files {
        let raw = std::fs::read(theirs.dir.join(file)).expect("file");
        assert!(raw.starts_with("\u{feff}".as_bytes()), "{file}: byte-order mark");
        let text = String::from_utf8(raw).expect("utf-8");
        let lines: Vec<&str> = text.split('\n').collect();
        assert!(lines.len() > 1 && lines[lines.len() - 1].is_empty(), "{file}: ends with a line end");
        assert!(lines[..lines.len() - 1].iter().all(|l| l.ends_with('\r')), "{file}: CRLF line ends");
        quoted_commas |= text.contains("\"Flat ");
        let (a, b) = (ours.table(file), theirs.table(file));
        assert_eq!(a.rows.len(), b.rows.len(), "{file}");
        let map = &council.maps[format];
        let fields: Vec<&str> = match format {
            "census" => cnis_core::schema::CENSUS.fields(),
            "source" => cnis_core::schema::SOURCE.fields(),
            "schools" => cnis_core::schema::SCHOOLS.fields(),
            _ => cnis_core::schema::POSTCODE_DEPRIVATION.fields(),
        };
        for (i, field) in fields.iter().enumerate() {
            let column = map.get(*field).map_or(a.headers[i].as_str(), String::as_str);
            let j = b.col(column);
            for (x, y) in a.rows.iter().zip(&b.rows) {
                assert_eq!(x[i], uk(&y[j]), "{file}: {field}");
            }
        }
        for extra in &council.extra_columns[format] {
            b.col(extra);
        }
    }
    assert!(quoted_commas, "addresses with commas are quoted");
    assert!(council.map_args["census"].contains("upn=PupilUPN"));
}

#[test]
fn same_seed_same_files_whatever_the_thread_count() {
    let config = SynthConfig {
        pupils: 3_000,
        seed: 77,
        rates: Rates::hard(),
        linkage_file: true,
        layout: Layout::Council,
        ..SynthConfig::default()
    };
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("pool");
        pool.install(|| Fixture::new(config.clone()))
    };
    let (one, two) = (run(1), run(3));
    let mut files: Vec<String> = one.manifest.rows.iter().map(|(f, _)| f.clone()).collect();
    files.push("manifest.json".into());
    for file in files {
        let (x, y) =
            (std::fs::read(one.dir.join(&file)).expect("one"), std::fs::read(two.dir.join(&file)).expect("two"));
        assert!(x == y, "{file} differs");
    }
    let other = Fixture::new(SynthConfig { seed: 78, ..config.clone() });
    assert_ne!(
        std::fs::read(one.dir.join(&one.manifest.census_b)).expect("a"),
        std::fs::read(other.dir.join(&other.manifest.census_b)).expect("b")
    );
}
