//! Children: who is on the first roll, what happens to them by the next
//! census, and the source rows a council would hold about them.

use chrono::{Days, NaiveDate};
use cnis_core::records::{DeletionGround, Destination, DestinationCode, Laestab, SenProvision, Sex};
use cnis_core::school_age::SchoolAgeRules;
use cnis_core::{LaCode, Upn};
use rand::Rng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use crate::geo::{AP_SHARE, England, GenLa, SPECIAL_SHARE};
use crate::names::Names;
use crate::{Profile, SynthConfig};

/// Social-care status on the first census day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SocialCare {
    /// Child in need.
    Cin,
    /// Child protection plan.
    Cpp,
    /// Looked after.
    Cla,
}

impl SocialCare {
    /// The code written to the social-care list.
    pub fn code(self) -> &'static str {
        match self {
            SocialCare::Cin => "CIN",
            SocialCare::Cpp => "CPP",
            SocialCare::Cla => "CLA",
        }
    }
}

/// Whether a child's UPN changed between the censuses, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NewUpn {
    /// Same UPN.
    No,
    /// The new school issued a new UPN by mistake; no former UPN recorded.
    Mistake,
    /// A new UPN was issued (e.g. adoption) and the former one recorded.
    Recorded,
}

/// What happened to a child between the two censuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// Same school.
    Stayed,
    /// Another state-funded school (including the move to secondary).
    MovedSchool,
    /// Past compulsory school age and left (Year 11 or 13).
    EndedSchooling,
    /// Left the roll while of compulsory school age.
    Left(Destination),
    /// On the second census only.
    Joined,
    /// On neither census: only on a destination source.
    NotOnRoll,
}

impl Fate {
    /// The name written to the truth file.
    pub fn name(self) -> &'static str {
        match self {
            Fate::Stayed => "stayed",
            Fate::MovedSchool => "moved_school",
            Fate::EndedSchooling => "ended_schooling",
            Fate::Left(d) => d.name(),
            Fate::Joined => "joined",
            Fate::NotOnRoll => "not_on_roll",
        }
    }
}

/// A child's place on one census.
#[derive(Debug, Clone)]
pub struct Enrol {
    /// Index into [`England::schools`].
    pub school: u32,
    /// UPN on this census.
    pub upn: Upn,
    /// Former UPN recorded on this census.
    pub former_upn: Option<Upn>,
    /// Home: index of the LA, neighbourhood and postcode.
    pub home: Home,
    /// NC year (0 = Reception).
    pub nc_year: i8,
    /// SEN provision.
    pub sen: SenProvision,
    /// Index into [`crate::SEN_NEEDS`].
    pub sen_need: u8,
    /// FSM eligible.
    pub fsm: bool,
    /// Sessions possible, authorised and unauthorised absence in the autumn term.
    pub sessions: [u16; 3],
    /// Date the child joined this school.
    pub entry_date: NaiveDate,
    /// Surname on this census (changes are rare but real).
    pub surname: u16,
}

/// Where a child lives.
#[derive(Debug, Clone, Copy)]
pub struct Home {
    /// Index into [`England::las`].
    pub la: u16,
    /// Index into that LA's neighbourhoods.
    pub neighbourhood: u32,
    /// Index into the neighbourhood's postcodes.
    pub postcode: u8,
    /// House number.
    pub house: u16,
    /// Index into the street table.
    pub street: u16,
}

/// A child of synthetic England.
#[derive(Debug, Clone)]
pub struct Child {
    /// Truth id (index in the population).
    pub truth_id: u64,
    /// Sex.
    pub sex: Sex,
    /// Date of birth.
    pub dob: NaiveDate,
    /// Forename index.
    pub forename: u16,
    /// Middle name (a forename index).
    pub middle: Option<u16>,
    /// Surname at birth.
    pub surname: u16,
    /// Index into [`crate::ETHNICITIES`].
    pub ethnicity: u8,
    /// Social-care status.
    pub social_care: Option<SocialCare>,
    /// Place on the first census.
    pub a: Option<Enrol>,
    /// Place on the second census.
    pub b: Option<Enrol>,
    /// What happened.
    pub fate: Fate,
    /// Whether the UPN changed.
    pub new_upn: NewUpn,
    /// Of compulsory school age on both census days (the leaver cohort).
    pub in_cohort: bool,
    /// A source row carrying the first-census UPN says where the child went.
    pub upn_evidence: bool,
    /// Some source row (with or without the UPN) says where the child went.
    pub evidence: bool,
    /// Home for children on neither census.
    pub home: Option<Home>,
    /// UPN of a child on neither census, from an earlier school.
    pub known_upn: Option<Upn>,
}

/// One row of a destination source, rendered from its child when written.
#[derive(Debug, Clone)]
pub struct SourceRow {
    /// Which source.
    pub kind: cnis_core::records::SourceKind,
    /// Index of the child in the population.
    pub child: u64,
    /// Whether the row carries the child's UPN.
    pub with_upn: bool,
    /// Date (EHE start, CME start, deletion, entry).
    pub date: Option<NaiveDate>,
    /// Deletion ground.
    pub ground: Option<DeletionGround>,
    /// Deletion destination.
    pub destination: Option<DestinationCode>,
    /// School (deletions: the school deleting; independent roll: the school).
    pub laestab: Option<Laestab>,
    /// Status.
    pub status: Option<&'static str>,
    /// LA holding the record.
    pub la: LaCode,
}

/// What one LA's generation produced.
pub struct LaOutput {
    /// Children, truth ids local until the population is assembled.
    pub children: Vec<Child>,
    /// Source rows, child indices local likewise.
    pub rows: Vec<SourceRow>,
}

/// Relative sizes of year groups R..13 on a school roll.
const YEAR_WEIGHTS: [f64; 14] = [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.45, 0.40];
/// Sessions possible in an autumn term.
const AUTUMN_SESSIONS: u16 = 140;

struct UpnAllocator {
    la: LaCode,
    primaries: Vec<u16>,
    counters: std::collections::HashMap<(u16, u8), u16>,
}

impl UpnAllocator {
    fn new(la: &GenLa, england: &England) -> Self {
        let primaries = la.primaries.iter().map(|&s| england.schools[s as usize].laestab.estab()).collect();
        UpnAllocator { la: la.code, primaries, counters: Default::default() }
    }

    /// A fresh UPN issued in academic year `year` by one of the LA's primaries
    /// (or, when `estab` is given, by that school).
    fn issue(&mut self, rng: &mut ChaCha8Rng, year: i32, estab: Option<u16>) -> Upn {
        let yy = year.rem_euclid(100) as u8;
        let mut estab = estab.unwrap_or_else(|| self.primaries[rng.random_range(0..self.primaries.len())]);
        loop {
            let c = self.counters.entry((estab, yy)).or_insert(0);
            if *c < 999 {
                *c += 1;
                let serial = *c;
                if let Ok(u) = Upn::from_parts(self.la, estab, yy, serial) {
                    return u;
                }
            }
            // This school has issued 999 numbers this year; another one issues.
            estab =
                self.primaries[rng.random_range(0..self.primaries.len())].wrapping_add(rng.random_range(0..3) * 1000);
        }
    }
}

fn random_date(rng: &mut ChaCha8Rng, from: NaiveDate, to: NaiveDate) -> NaiveDate {
    let span = (to - from).num_days().max(0) as u64;
    from.checked_add_days(Days::new(rng.random_range(0..=span))).unwrap_or(from)
}

fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap_or(NaiveDate::MIN)
}

/// Context shared by every LA's generation.
pub struct Ctx<'a> {
    /// Configuration.
    pub config: &'a SynthConfig,
    /// Places.
    pub england: &'a England,
    /// Name tables.
    pub names: &'a Names,
    /// First census day.
    pub census_a: NaiveDate,
    /// Second census day.
    pub census_b: NaiveDate,
}

fn deprivation_of(ctx: &Ctx, home: &Home) -> f64 {
    let d = ctx.england.las[usize::from(home.la)].neighbourhoods[home.neighbourhood as usize].decile.get();
    f64::from(10 - d) / 9.0
}

fn pick_home(ctx: &Ctx, la: usize, rng: &mut ChaCha8Rng) -> Home {
    let n = ctx.england.las[la].neighbourhoods.len();
    Home {
        la: la as u16,
        neighbourhood: rng.random_range(0..n) as u32,
        postcode: rng.random_range(0..12),
        house: rng.random_range(1..240),
        street: ctx.names.streets.sample(rng),
    }
}

/// Draws SEN, FSM, absence for a child living at a place with deprivation `dep`.
fn characteristics(rng: &mut ChaCha8Rng, dep: f64, special: bool) -> (SenProvision, u8, bool, [u16; 3]) {
    let sen = if special || rng.random_bool(0.030) {
        SenProvision::Ehcp
    } else if rng.random_bool((0.10 + 0.07 * dep).clamp(0.0, 1.0)) {
        SenProvision::SenSupport
    } else {
        SenProvision::None
    };
    let sen_need = if sen == SenProvision::None { 0 } else { rng.random_range(1..crate::SEN_NEEDS.len() as u8) };
    let fsm = rng.random_bool((0.06 + 0.40 * dep.powf(1.2)).clamp(0.0, 1.0));
    let sen_extra = if sen == SenProvision::None { 0.0 } else { 1.0 };
    let severe = 0.0085 + 0.012 * dep + 0.010 * sen_extra;
    let persistent = 0.12 + 0.10 * dep + 0.06 * sen_extra;
    let u: f64 = rng.random();
    let rate = if u < severe {
        rng.random_range(0.5..0.97)
    } else if u < severe + persistent {
        0.10 + 0.39 * rng.random::<f64>().powi(2)
    } else {
        0.0999 * rng.random::<f64>().powf(1.5)
    };
    let possible = AUTUMN_SESSIONS - rng.random_range(0..6);
    let absent = (f64::from(possible) * rate).ceil() as u16;
    let absent = if rate >= 0.5 { absent.max(possible.div_ceil(2)) } else { absent.min(possible) };
    let unauth_share = if rate >= 0.1 { rng.random_range(0.3..0.8) } else { rng.random_range(0.0..0.4) };
    let unauthorised = (f64::from(absent) * unauth_share).round() as u16;
    (sen, sen_need, fsm, [possible, absent - unauthorised, unauthorised])
}

fn stratum(e: &Enrol) -> usize {
    let absent = u32::from(e.sessions[1]) + u32::from(e.sessions[2]);
    let band = match cnis_core::records::AbsenceBand::of(e.sessions[0], absent) {
        Some(cnis_core::records::AbsenceBand::Severe) => 2,
        Some(cnis_core::records::AbsenceBand::Persistent) => 1,
        _ => 0,
    };
    let sen = match e.sen {
        SenProvision::None => 0,
        SenProvision::SenSupport => 1,
        SenProvision::Ehcp => 2,
    };
    (band * 3 + sen) * 2 + usize::from(e.nc_year >= 7)
}

/// Generates one LA: its first-census children, their fates, the joiners on
/// the second census and the source rows. `targets[d]` is how many leavers
/// of each destination this LA gets.
pub fn generate_la(ctx: &Ctx, la_idx: usize, targets: &[(Destination, u64)], rng: &mut ChaCha8Rng) -> LaOutput {
    let la = &ctx.england.las[la_idx];
    let rules = SchoolAgeRules::default();
    let year_a = ctx.config.first_year;
    let mut upns = UpnAllocator::new(la, ctx.england);
    let mut children = Vec::with_capacity(la.pupils as usize + la.pupils as usize / 8);
    let mut rows = Vec::new();
    let year_total: f64 = YEAR_WEIGHTS.iter().sum();
    let year_counts = crate::geo::apportion(la.pupils, &YEAR_WEIGHTS.map(|w| w / year_total));

    // The first census.
    for (y, &count) in year_counts.iter().enumerate() {
        for _ in 0..count {
            let child = new_child(ctx, la_idx, y as i8, year_a, rng, &mut upns);
            children.push(child);
        }
    }

    // The leaver cohort: of compulsory school age on both census days.
    let mut pools: Vec<Vec<usize>> = vec![Vec::new(); 36];
    for (i, c) in children.iter_mut().enumerate() {
        c.in_cohort = rules.is_csa(c.dob, ctx.census_a) && rules.is_csa(c.dob, ctx.census_b);
        if let (true, Some(a)) = (c.in_cohort, &c.a) {
            let dep = deprivation_of(ctx, &a.home) > 0.5;
            let s = stratum(a);
            // Stratum index: deprivation is the middle factor.
            let idx = ((s / 2) * 2 + usize::from(dep)) * 2 + s % 2;
            pools[idx].push(i);
        }
    }
    for p in pools.iter_mut() {
        p.shuffle(rng);
    }
    let social: Vec<bool> = children.iter().map(|c| c.social_care.is_some()).collect();
    for &(dest, k) in targets {
        let profile = Profile::of(dest);
        for _ in 0..k {
            let Some(i) = draw_from_pools(&mut pools, &profile, &|i| social[i], rng) else { break };
            children[i].fate = Fate::Left(dest);
        }
    }

    // Everyone else moves on a year; leavers leave a trail in the sources.
    let n_a = children.len();
    for i in 0..n_a {
        step(ctx, la_idx, i, &mut children, &mut rows, rng, &mut upns);
    }

    social_care_rows(la.code, &children, &mut rows, rng);

    // Joiners: a new Reception year and in-year arrivals.
    let reception = year_counts[0];
    let arrivals = (la.pupils as f64 * ctx.config.rates.arrivals).round() as u64;
    for k in 0..reception + arrivals {
        let y = if k < reception { 0 } else { rng.random_range(1..=11) };
        let mut c = new_child(ctx, la_idx, y, year_a + 1, rng, &mut upns);
        c.b = c.a.take();
        if let Some(b) = c.b.as_mut()
            && y > 0
        {
            b.entry_date = random_date(rng, ymd(year_a + 1, 9, 1), ctx.census_b);
        }
        c.fate = Fate::Joined;
        children.push(c);
    }

    // Children on the registers but on neither census.
    background(ctx, la_idx, &mut children, &mut rows, rng, &mut upns);

    LaOutput { children, rows }
}

fn draw_from_pools(
    pools: &mut [Vec<usize>],
    profile: &Profile,
    known_to_social_care: &dyn Fn(usize) -> bool,
    rng: &mut ChaCha8Rng,
) -> Option<usize> {
    let seek_social_care = rng.random_bool(profile.social_care.clamp(0.0, 1.0));
    // Stratum index: ((band * 3 + sen) * 2 + deprived) * 2 + phase.
    let s = profile.sample_stratum(rng);
    let (band, sen, dep, phase) = (s / 12, (s / 4) % 3, (s / 2) % 2, s % 2);
    let idx = |b: usize, sn: usize, d: usize, p: usize| ((b * 3 + sn) * 2 + d) * 2 + p;
    // Small LAs run out of rare strata: relax phase, then SEN, then
    // deprivation, keeping the absence band (the strongest signal) to last.
    let mut tiers: Vec<Vec<usize>> = vec![vec![idx(band, sen, dep, phase)]];
    tiers.push((0..2).map(|p| idx(band, sen, dep, p)).collect());
    tiers.push((0..3).flat_map(|sn| (0..2).map(move |p| (sn, p))).map(|(sn, p)| idx(band, sn, dep, p)).collect());
    tiers.push((0..12).map(|k| band * 12 + k).collect());
    tiers.push((0..36).collect());
    for tier in tiers {
        let total: usize = tier.iter().map(|&t| pools[t].len()).sum();
        if total == 0 {
            continue;
        }
        // Pick within the tier in proportion to what each stratum holds.
        let mut x = rng.random_range(0..total);
        for t in tier {
            let pool = &mut pools[t];
            if x < pool.len() {
                // Pools are shuffled, so the first child known to social
                // care near the end is a random one.
                if seek_social_care
                    && let Some(k) =
                        (0..pool.len().min(256)).map(|k| pool.len() - 1 - k).find(|&k| known_to_social_care(pool[k]))
                {
                    return Some(pool.swap_remove(k));
                }
                return pool.pop();
            }
            x -= pool.len();
        }
    }
    None
}

fn school_for(la: &GenLa, y: i8, rng: &mut ChaCha8Rng) -> u32 {
    let special = rng.random_bool(SPECIAL_SHARE);
    let ap = (5..=11).contains(&y) && rng.random_bool(AP_SHARE * 14.0 / 7.0);
    let list = if special {
        &la.specials
    } else if ap {
        &la.aps
    } else if y <= 6 {
        &la.primaries
    } else {
        &la.secondaries
    };
    list[rng.random_range(0..list.len())]
}

fn new_child(ctx: &Ctx, la_idx: usize, y: i8, year: i32, rng: &mut ChaCha8Rng, upns: &mut UpnAllocator) -> Child {
    let la = &ctx.england.las[la_idx];
    // Born between 1 September and 31 August of the right year.
    let born_from = ymd(year - 5 - i32::from(y), 9, 1);
    let dob = random_date(rng, born_from, ymd(year - 4 - i32::from(y), 8, 31));
    let sex = if rng.random_bool(0.51) { Sex::Male } else { Sex::Female };
    let table = if sex == Sex::Male { &ctx.names.male } else { &ctx.names.female };
    let forename = table.sample(rng);
    let middle = rng.random_bool(0.6).then(|| table.sample(rng));
    let surname = ctx.names.surnames.sample(rng);
    let home = pick_home(ctx, la_idx, rng);
    let dep = deprivation_of(ctx, &home);
    let school = school_for(la, y, rng);
    let special = ctx.england.schools[school as usize].phase == crate::geo::Phase::Special;
    let (sen, sen_need, fsm, sessions) = characteristics(rng, dep, special);
    let upn = upns.issue(rng, year - i32::from(y), None);
    let social_care = {
        let boost = if sessions[0] > 0 && (sessions[1] + sessions[2]) * 2 >= sessions[0] { 2.0 } else { 1.0 };
        let u: f64 = rng.random();
        let cla = (0.003 + 0.006 * dep) * boost;
        let cpp = (0.002 + 0.006 * dep) * boost;
        let cin = (0.010 + 0.030 * dep) * boost;
        if u < cla {
            Some(SocialCare::Cla)
        } else if u < cla + cpp {
            Some(SocialCare::Cpp)
        } else if u < cla + cpp + cin {
            Some(SocialCare::Cin)
        } else {
            None
        }
    };
    let entry_year = if y >= 7 && ctx.england.schools[school as usize].phase == crate::geo::Phase::Secondary {
        year - i32::from(y) + 7
    } else {
        year - i32::from(y)
    };
    Child {
        truth_id: 0,
        sex,
        dob,
        forename,
        middle,
        surname,
        ethnicity: crate::sample_ethnicity(rng),
        social_care,
        a: Some(Enrol {
            school,
            upn,
            former_upn: None,
            home,
            nc_year: y,
            sen,
            sen_need,
            fsm,
            sessions,
            entry_date: ymd(entry_year, 9, 1 + rng.random_range(0..7)),
            surname,
        }),
        b: None,
        fate: Fate::Stayed,
        new_upn: NewUpn::No,
        in_cohort: false,
        upn_evidence: false,
        evidence: false,
        home: None,
        known_upn: None,
    }
}

/// Moves child `i` from the first census to the second, and writes the
/// source rows its fate leaves behind.
#[allow(clippy::too_many_arguments)]
fn step(
    ctx: &Ctx,
    la_idx: usize,
    i: usize,
    children: &mut [Child],
    rows: &mut Vec<SourceRow>,
    rng: &mut ChaCha8Rng,
    upns: &mut UpnAllocator,
) {
    let rates = &ctx.config.rates;
    let la = &ctx.england.las[la_idx];
    let year_b = ctx.config.first_year + 1;
    let Some(a) = children[i].a.clone() else { return };
    let school_a = &ctx.england.schools[a.school as usize];
    let between = (ctx.census_a.succ_opt().unwrap_or(ctx.census_a), ctx.census_b.pred_opt().unwrap_or(ctx.census_b));
    let row = |kind, with_upn: bool, date, ground, destination, laestab, status| SourceRow {
        kind,
        child: i as u64,
        with_upn,
        date,
        ground,
        destination,
        laestab,
        status,
        la: la.code,
    };
    use cnis_core::records::SourceKind as K;
    if let Fate::Left(dest) = children[i].fate {
        let date = Some(random_date(rng, between.0, between.1));
        let deleting = Some(school_a.laestab);
        let mut evidence = false;
        match dest {
            Destination::HomeEducation => {
                children[i].evidence = true;
                let with_upn = rng.random_bool(0.90);
                rows.push(row(K::HomeEducation, with_upn, date, None, None, None, None));
                evidence |= with_upn;
                if rng.random_bool(0.85) {
                    rows.push(row(K::Deletion, true, date, Some(DeletionGround::HOME_EDUCATION), None, deleting, None));
                    evidence = true;
                }
            }
            Destination::Cme => {
                children[i].evidence = true;
                let with_upn = rng.random_bool(0.85);
                let status = if rng.random_bool(0.7) { "known" } else { "suspected" };
                rows.push(row(K::Cme, with_upn, date, None, None, None, Some(status)));
                evidence |= with_upn;
                if rng.random_bool(0.6) {
                    let g = Some(DeletionGround::CONTINUOUS_ABSENCE);
                    rows.push(row(K::Deletion, true, date, g, Some(DestinationCode::Unknown), deleting, None));
                }
            }
            Destination::Unknown => {
                if rng.random_bool(0.7) {
                    let g = if rng.random_bool(0.6) {
                        DeletionGround::CONTINUOUS_ABSENCE
                    } else {
                        DeletionGround::MOVED_AWAY
                    };
                    rows.push(row(K::Deletion, true, date, Some(g), Some(DestinationCode::Unknown), deleting, None));
                }
            }
            Destination::IndependentSchool => {
                let school = la.independents[rng.random_range(0..la.independents.len())];
                let laestab = ctx.england.schools[school as usize].laestab;
                let with_upn = rng.random_bool(0.80);
                children[i].evidence = true;
                rows.push(row(K::IndependentRoll, with_upn, date, None, None, Some(laestab), None));
                evidence |= with_upn;
                if rng.random_bool(0.6) {
                    let d = Some(DestinationCode::School(laestab));
                    rows.push(row(K::Deletion, true, date, Some(DeletionGround::OTHER_SCHOOL), d, deleting, None));
                    evidence = true;
                }
            }
            Destination::Abroad => {
                if rng.random_bool(0.85) {
                    let d = Some(DestinationCode::Abroad);
                    rows.push(row(K::Deletion, true, date, Some(DeletionGround::MOVED_AWAY), d, deleting, None));
                    evidence = true;
                }
            }
            Destination::OutsideEngland => {
                if rng.random_bool(0.80) {
                    let welsh = Laestab::new(rng.random_range(660..=681), rng.random_range(2000..4999));
                    let d = Some(DestinationCode::School(welsh));
                    rows.push(row(K::Deletion, true, date, Some(DeletionGround::MOVED_AWAY), d, deleting, None));
                    evidence = true;
                }
            }
            Destination::Died => {
                rows.push(row(K::Deletion, true, date, Some(DeletionGround::DIED), None, deleting, None));
                evidence = true;
            }
            Destination::AnotherSchool | Destination::AlternativeProvision | Destination::Custody => {}
        }
        children[i].upn_evidence = evidence;
        children[i].evidence |= evidence;
        return;
    }

    let y = a.nc_year;
    let continues = match y {
        13 => false,
        11 => rng.random_bool(0.55),
        12 => rng.random_bool(0.88),
        _ => true,
    };
    if !continues {
        children[i].fate = Fate::EndedSchooling;
        return;
    }
    let mut b = a.clone();
    b.nc_year = y + 1;
    b.former_upn = None;
    let dep = deprivation_of(ctx, &a.home);
    let special = school_a.phase == crate::geo::Phase::Special;
    let (sen, need, fsm, sessions) = characteristics(rng, dep, special);
    // Needs change slowly: keep the first census's SEN most of the time.
    if rng.random_bool(0.1) {
        b.sen = sen;
        b.sen_need = need;
    }
    b.fsm = if a.fsm { rng.random_bool(0.92) } else { fsm && rng.random_bool(0.12) };
    b.sessions = sessions;
    let u: f64 = rng.random();
    let to_secondary = y == 6 && school_a.phase == crate::geo::Phase::Primary;
    if to_secondary || u < rates.move_in_la + rates.move_between_las {
        let other_la = !to_secondary && u >= rates.move_in_la || to_secondary && rng.random_bool(0.03);
        let new_la = if other_la { rng.random_range(0..ctx.england.las.len()) } else { la_idx };
        if other_la {
            b.home = pick_home(ctx, new_la, rng);
        } else if rng.random_bool(0.4) {
            b.home = pick_home(ctx, la_idx, rng);
        }
        let dest_la = &ctx.england.las[new_la];
        let mut school = school_for(dest_la, b.nc_year, rng);
        if school == a.school {
            school = school_for(dest_la, b.nc_year, rng);
        }
        b.school = school;
        b.entry_date = if to_secondary { ymd(year_b, 9, 1) } else { random_date(rng, between.0, between.1) };
        children[i].fate = if school == a.school { Fate::Stayed } else { Fate::MovedSchool };
        if !to_secondary && children[i].fate == Fate::MovedSchool {
            // In-year moves get a deletion return; the standard transfer to
            // secondary school does not.
            let d = ctx.england.schools[school as usize].laestab;
            let notice = rng.random_bool(0.9);
            if notice {
                let date = Some(b.entry_date);
                let g = Some(DeletionGround::OTHER_SCHOOL);
                rows.push(row(
                    K::Deletion,
                    true,
                    date,
                    g,
                    Some(DestinationCode::School(d)),
                    Some(school_a.laestab),
                    None,
                ));
            }
            if !other_la && rng.random_bool(rates.new_upn_by_mistake) {
                b.upn = upns.issue(rng, year_b, Some(d.estab()));
                children[i].new_upn = NewUpn::Mistake;
                children[i].upn_evidence = notice;
                children[i].evidence = notice;
            }
        }
    } else {
        children[i].fate = Fate::Stayed;
        if rng.random_bool(0.03) {
            b.home = pick_home(ctx, la_idx, rng);
        }
    }
    if children[i].new_upn == NewUpn::No && rng.random_bool(rates.new_upn_recorded) {
        b.upn = upns.issue(rng, year_b, None);
        b.former_upn = Some(a.upn);
        children[i].new_upn = NewUpn::Recorded;
    }
    if rng.random_bool(rates.surname_change) {
        b.surname = ctx.names.surnames.sample(rng);
    }
    children[i].b = Some(b);
}

/// Children on the registers who are on neither census: long-standing home
/// education, children missing education who were never on a roll here,
/// independent-school pupils.
fn background(
    ctx: &Ctx,
    la_idx: usize,
    children: &mut Vec<Child>,
    rows: &mut Vec<SourceRow>,
    rng: &mut ChaCha8Rng,
    upns: &mut UpnAllocator,
) {
    use cnis_core::records::SourceKind as K;
    let la = &ctx.england.las[la_idx];
    let year_a = ctx.config.first_year;
    let r = &ctx.config.rates;
    let p = la.pupils as f64;
    let groups = [
        (K::HomeEducation, (p * r.background_home_education).round() as u64, 0.4),
        (K::Cme, (p * r.background_cme).round() as u64, 0.3),
        (K::IndependentRoll, (p * r.background_independent).round() as u64, 0.3),
    ];
    for (kind, n, upn_share) in groups {
        for _ in 0..n {
            let y = rng.random_range(1..=10);
            let mut c = new_child(ctx, la_idx, y, year_a + 1, rng, upns);
            let Some(mut e) = c.a.take() else { continue };
            // Their UPNs come from years before and from schools that have
            // since closed (estab 5xxx), so they never collide with a
            // current pupil's.
            let closed = 5001 + rng.random_range(0..900);
            e.upn = upns.issue(rng, year_a - i32::from(y) - 1, Some(closed));
            c.home = Some(e.home);
            c.known_upn = Some(e.upn);
            c.fate = Fate::NotOnRoll;
            let laestab = (kind == K::IndependentRoll).then(|| {
                ctx.england.schools[la.independents[rng.random_range(0..la.independents.len())] as usize].laestab
            });
            let status = match kind {
                K::Cme => Some(if rng.random_bool(0.6) { "known" } else { "suspected" }),
                _ => None,
            };
            let date = Some(random_date(rng, ymd(year_a - 3, 9, 1), ctx.census_b));
            rows.push(SourceRow {
                kind,
                child: children.len() as u64,
                with_upn: rng.random_bool(upn_share),
                date,
                ground: None,
                destination: None,
                laestab,
                status,
                la: la.code,
            });
            children.push(c);
        }
    }
}

/// Social care's list: every child on the first roll known to social care.
fn social_care_rows(la: LaCode, children: &[Child], rows: &mut Vec<SourceRow>, rng: &mut ChaCha8Rng) {
    for (i, c) in children.iter().enumerate() {
        if let (Some(sc), Some(_)) = (c.social_care, &c.a) {
            rows.push(SourceRow {
                kind: cnis_core::records::SourceKind::SocialCare,
                child: i as u64,
                with_upn: rng.random_bool(0.95),
                date: None,
                ground: None,
                destination: None,
                laestab: None,
                status: Some(sc.code()),
                la,
            });
        }
    }
}
