//! Children: who is on the first roll (twins among them), what happens to
//! them by the next census, and the source rows a council would hold about
//! them. The awkward cases councils' files hold are added afterwards, in
//! [`crate::cases`].

use chrono::{Days, NaiveDate};
use cnis_core::records::{
    DeletionGround, Destination, DestinationCode, GroundMeaning, Laestab, Regulations, SenProvision, Sex, SourceKind,
};
use cnis_core::school_age::SchoolAgeRules;
use cnis_core::{LaCode, Upn};
use rand::Rng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use crate::geo::{AP_SHARE, England, GenLa, Phase, SPECIAL_SHARE};
use crate::names::{Names, are_variants};
use crate::{Profile, SynthConfig};

/// Social-care status, from least to most.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SocialCare {
    /// Child in need.
    Cin,
    /// Child-protection enquiry under s.47.
    S47,
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
            SocialCare::S47 => "S47",
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

/// What the files make knowable about a child of the leaver cohort.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Knowable {
    /// Not in the leaver cohort.
    NotInCohort,
    /// On the second census (under any UPN): not a leaver.
    OnRoll,
    /// A leaver, and where current source rows say they went
    /// ([`Destination::Unknown`] when none does).
    Destination(Destination),
}

impl Knowable {
    /// The name written to the truth file (empty outside the cohort).
    pub fn name(self) -> &'static str {
        match self {
            Knowable::NotInCohort => "",
            Knowable::OnRoll => "on_roll",
            Knowable::Destination(d) => d.name(),
        }
    }
}

/// A second registration on one census: the pupil's main school returns
/// `M`, the other school (a PRU) returns `S`, or `M` as well by mistake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dual {
    /// Index into [`England::schools`] of the other school.
    pub school: u32,
    /// Both schools return `M`.
    pub both_main: bool,
    /// The other school's row comes before the main row in the file.
    pub subsidiary_first: bool,
    /// Date the pupil joined the other school.
    pub entry_date: NaiveDate,
    /// Sessions possible, authorised and unauthorised at the other school.
    pub sessions: [u16; 3],
}

/// Faults of one census row ([`Enrol::faults`]).
pub mod row_faults {
    /// The UPN is mistyped (fails its check).
    pub const UPN_MISTYPED: u8 = 1;
    /// The row is returned twice.
    pub const DUPLICATE: u8 = 2;
    /// The second copy differs in its attendance.
    pub const DUPLICATE_DIFFERS: u8 = 4;
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
    /// A dual registration.
    pub dual: Option<Box<Dual>>,
    /// [`row_faults`] of the row.
    pub faults: u8,
}

/// Where a child lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

/// Things that happened to a child, or were done to their records ([`Child::flags`]).
pub mod flags {
    /// Permanently excluded between the censuses.
    pub const EXCLUDED: u16 = 1;
    /// In a school-arranged AP placement while on roll.
    pub const SCHOOL_AP: u16 = 2;
    /// Adopted: new UPN with the former recorded, new surname.
    pub const ADOPTED: u16 = 4;
    /// Surname changed between the censuses.
    pub const SURNAME_CHANGED: u16 = 8;
    /// The second-census row carries an unrelated child's UPN as FormerUPN.
    pub const WRONG_FORMER_UPN: u16 = 16;
    /// An unrelated child's second-census row carries this child's UPN as FormerUPN.
    pub const FORMER_UPN_VICTIM: u16 = 32;
    /// On the second roll with a current home-education or CME entry.
    pub const REGISTER_ON_ROLL: u16 = 64;
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
    /// Second part of a double-barrelled surname at birth.
    pub surname2: Option<u16>,
    /// Index into [`crate::ETHNICITIES`].
    pub ethnicity: u8,
    /// Social-care status on the first census day.
    pub social_care: Option<SocialCare>,
    /// The most serious social-care status of an episode open at some
    /// time between the census days (inclusive).
    pub social_care_between: Option<SocialCare>,
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
    /// A current source row carrying the first-census UPN, as it is, says
    /// where the child went.
    pub upn_evidence: bool,
    /// Some current source row (with or without the UPN) says where the child went.
    pub evidence: bool,
    /// What the files make knowable.
    pub knowable: Knowable,
    /// Home for children on neither census.
    pub home: Option<Home>,
    /// UPN of a child on neither census, from an earlier school.
    pub known_upn: Option<Upn>,
    /// The other twin (a truth id once the population is assembled).
    pub twin: Option<u32>,
    /// For a child whose second-census row carries a wrong FormerUPN, the
    /// child whose UPN it is; for that child, the carrier.
    pub former_link: Option<u32>,
    /// Earlier-spell rows about the child (dated before their latest roll
    /// entry, or AP placements ended before the first census).
    pub stale_rows: u8,
    /// [`flags`].
    pub flags: u16,
}

impl Child {
    /// Whether a [`flags`] bit is set.
    pub fn has(&self, flag: u16) -> bool {
        self.flags & flag != 0
    }
}

/// How a deletion ground is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroundForm {
    /// `8(1)(d)` / `9(1)(f)`.
    Full,
    /// `d`: read under the regulations in force on the deletion date, or
    /// those the load states.
    Letter,
    /// `(d)`.
    Bracketed,
}

/// One row of a destination source, rendered from its child when written.
#[derive(Debug, Clone)]
pub struct SourceRow {
    /// Which source.
    pub kind: SourceKind,
    /// Index of the child in the population.
    pub child: u64,
    /// Whether the row carries the child's UPN (as it is, or mistyped).
    pub with_upn: bool,
    /// The UPN is mistyped (fails its check).
    pub upn_mistyped: bool,
    /// Date (EHE start, CME start, deletion, roll entry, placement or episode start).
    pub date: Option<NaiveDate>,
    /// Placement or episode end; for registers, the day the entry closed.
    pub end_date: Option<NaiveDate>,
    /// Deletion ground.
    pub ground: Option<DeletionGround>,
    /// How the ground is written.
    pub ground_form: GroundForm,
    /// Deletion destination.
    pub destination: Option<DestinationCode>,
    /// School (deletions: the school deleting; independent roll: the school).
    pub laestab: Option<Laestab>,
    /// The school's URN (independent roll).
    pub urn: Option<u32>,
    /// Status.
    pub status: Option<&'static str>,
    /// AP provider number within the LA.
    pub provider: Option<u16>,
    /// AP hours a week.
    pub hours: u8,
    /// LA holding the record.
    pub la: LaCode,
    /// About an earlier spell: says nothing of where the child is now.
    pub stale: bool,
    /// Sent in the LA's separate file of bare letters.
    pub letters_file: bool,
}

impl SourceRow {
    /// A row with nothing but its kind, child and LA.
    pub fn new(kind: SourceKind, child: usize, la: LaCode) -> SourceRow {
        SourceRow {
            kind,
            child: child as u64,
            with_upn: true,
            upn_mistyped: false,
            date: None,
            end_date: None,
            ground: None,
            ground_form: GroundForm::Full,
            destination: None,
            laestab: None,
            urn: None,
            status: None,
            provider: None,
            hours: 0,
            la,
            stale: false,
            letters_file: false,
        }
    }
}

/// The ground for `meaning` under the regulations in force on `date`.
pub fn ground_for(meaning: GroundMeaning, date: NaiveDate) -> Option<DeletionGround> {
    let regs = Regulations::in_force_on(date);
    DeletionGround::all().find(|g| g.regulations() == regs && g.meaning() == meaning)
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

/// Issues UPNs the way schools do: LA, school, year, serial.
pub struct UpnAllocator {
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
    pub fn issue(&mut self, rng: &mut ChaCha8Rng, year: i32, estab: Option<u16>) -> Upn {
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

/// The establishment that issued a UPN (characters 5-8).
fn issuing_estab(upn: Upn) -> Option<u16> {
    upn.as_str().get(4..8).and_then(|s| s.parse().ok())
}

/// The year a UPN was issued in (characters 9-10), as a year of this century.
fn issuing_year(upn: Upn) -> Option<i32> {
    upn.as_str().get(8..10).and_then(|s| s.parse::<i32>().ok()).map(|y| 2000 + y)
}

/// A day between `from` and `to` inclusive (`from` if the range is empty).
pub fn random_date(rng: &mut ChaCha8Rng, from: NaiveDate, to: NaiveDate) -> NaiveDate {
    let span = (to - from).num_days().max(0) as u64;
    from.checked_add_days(Days::new(rng.random_range(0..=span))).unwrap_or(from)
}

/// `d` moved by `days` (either way).
pub fn shift(d: NaiveDate, days: i64) -> NaiveDate {
    if days >= 0 {
        d.checked_add_days(Days::new(days as u64)).unwrap_or(d)
    } else {
        d.checked_sub_days(Days::new(days.unsigned_abs())).unwrap_or(d)
    }
}

/// A calendar date (a fixed, valid one in practice).
pub fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
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

impl Ctx<'_> {
    /// The first and last days strictly between the censuses.
    pub fn between(&self) -> (NaiveDate, NaiveDate) {
        (shift(self.census_a, 1), shift(self.census_b, -1))
    }
}

pub(crate) fn deprivation_of(ctx: &Ctx, home: &Home) -> f64 {
    let d = ctx.england.las[usize::from(home.la)].neighbourhoods[home.neighbourhood as usize].decile.get();
    f64::from(10 - d) / 9.0
}

pub(crate) fn pick_home(ctx: &Ctx, la: usize, rng: &mut ChaCha8Rng) -> Home {
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

fn social_care_draw(rng: &mut ChaCha8Rng, dep: f64, sessions: [u16; 3]) -> Option<SocialCare> {
    let boost = if sessions[0] > 0 && (sessions[1] + sessions[2]) * 2 >= sessions[0] { 2.0 } else { 1.0 };
    let u: f64 = rng.random();
    let cla = (0.003 + 0.006 * dep) * boost;
    let cpp = (0.002 + 0.006 * dep) * boost;
    let s47 = (0.001 + 0.002 * dep) * boost;
    let cin = (0.010 + 0.030 * dep) * boost;
    if u < cla {
        Some(SocialCare::Cla)
    } else if u < cla + cpp {
        Some(SocialCare::Cpp)
    } else if u < cla + cpp + s47 {
        Some(SocialCare::S47)
    } else if u < cla + cpp + s47 + cin {
        Some(SocialCare::Cin)
    } else {
        None
    }
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

/// Adds `count` children of NC year `y` to `children`, some of them pairs
/// of twins. `year` is the academic year of the census they are on.
#[allow(clippy::too_many_arguments)]
fn add_year_group(
    ctx: &Ctx,
    la_idx: usize,
    y: i8,
    year: i32,
    count: u64,
    children: &mut Vec<Child>,
    rng: &mut ChaCha8Rng,
    upns: &mut UpnAllocator,
) {
    // Pairs are counted out first, so that the share of children who are
    // twins is the rate whatever the size of the year group.
    let t = ctx.config.rates.twins.clamp(0.0, 1.0);
    let pairs = ((count as f64 * t / 2.0 + rng.random::<f64>()).floor() as u64).min(count / 2);
    let mut births: Vec<bool> = (0..count - pairs).map(|k| k < pairs).collect();
    births.shuffle(rng);
    for twins in births {
        let first = new_child(ctx, la_idx, y, year, rng, upns);
        children.push(first);
        if twins {
            let i = children.len() - 1;
            let twin = twin_of(ctx, la_idx, &children[i], rng, upns);
            children.push(twin);
            children[i].twin = Some((i + 1) as u32);
            children[i + 1].twin = Some(i as u32);
        }
    }
}

/// The other of a pair of twins: same household, surname and date of
/// birth; a forename that is not a variant of the first's; the next UPN
/// from the same school; usually the same school.
fn twin_of(ctx: &Ctx, la_idx: usize, first: &Child, rng: &mut ChaCha8Rng, upns: &mut UpnAllocator) -> Child {
    let la = &ctx.england.las[la_idx];
    let mut t = first.clone();
    // Identical twins (a third) share their sex; of the rest, half do.
    if !rng.random_bool(2.0 / 3.0) {
        t.sex = if first.sex == Sex::Male { Sex::Female } else { Sex::Male };
    }
    let first_table = if first.sex == Sex::Male { &ctx.names.male } else { &ctx.names.female };
    let table = if t.sex == Sex::Male { &ctx.names.male } else { &ctx.names.female };
    // Neither twin's forename is a variant of the other's forename or
    // middle name, so a list writing one by a middle name or a nickname
    // never writes the other's name.
    let first_names: Vec<&str> =
        std::iter::once(first.forename).chain(first.middle).map(|n| first_table.get(n)).collect();
    let clashes = |name: &str| first_names.iter().any(|f| are_variants(name, f));
    for _ in 0..50 {
        t.forename = table.sample(rng);
        if !clashes(table.get(t.forename)) {
            break;
        }
    }
    t.middle = None;
    if rng.random_bool(0.6) {
        let m = table.sample(rng);
        let first_forename = first_table.get(first.forename);
        if m != t.forename && !are_variants(table.get(m), first_forename) {
            t.middle = Some(m);
        }
    }
    if let Some(a) = first.a.as_ref() {
        let mut e = a.clone();
        let school = if rng.random_bool(0.85) { a.school } else { school_for(la, a.nc_year, rng) };
        let special = ctx.england.schools[school as usize].phase == Phase::Special;
        let (sen, sen_need, _, sessions) = characteristics(rng, deprivation_of(ctx, &a.home), special);
        // The next number from the school and year that issued the first's.
        let year = issuing_year(a.upn).unwrap_or(ctx.config.first_year - i32::from(a.nc_year));
        e.upn = upns.issue(rng, year, issuing_estab(a.upn));
        e.school = school;
        e.sen = sen;
        e.sen_need = sen_need;
        e.sessions = sessions;
        t.social_care = if first.social_care.is_some() && rng.random_bool(0.7) {
            first.social_care
        } else {
            social_care_draw(rng, deprivation_of(ctx, &a.home), sessions)
        };
        t.a = Some(e);
    }
    t
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
        add_year_group(ctx, la_idx, y as i8, year_a, count, &mut children, rng, &mut upns);
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
    let together = ctx.config.rates.twins_leave_together;
    for &(dest, k) in targets {
        let profile = Profile::of(dest);
        let mut drawn = 0;
        while drawn < k {
            let Some(i) = draw_from_pools(&mut pools, &profile, &|i| social[i], rng) else { break };
            if children[i].fate != Fate::Stayed {
                // Already taken with their twin.
                continue;
            }
            children[i].fate = Fate::Left(dest);
            drawn += 1;
            if let Some(j) = children[i].twin.map(|j| j as usize)
                && drawn < k
                && children[j].in_cohort
                && children[j].fate == Fate::Stayed
                && rng.random_bool(together)
            {
                children[j].fate = Fate::Left(dest);
                drawn += 1;
            }
        }
    }

    // Everyone else moves on a year; leavers leave a trail in the sources.
    let n_a = children.len();
    for i in 0..n_a {
        step(ctx, la_idx, i, &mut children, &mut rows, rng, &mut upns);
    }

    crate::cases::social_care(ctx, la.code, &mut children, &mut rows, rng);

    // Joiners: a new Reception year and in-year arrivals.
    let first_joiner = children.len();
    add_year_group(ctx, la_idx, 0, year_a + 1, year_counts[0], &mut children, rng, &mut upns);
    let arrivals = (la.pupils as f64 * ctx.config.rates.arrivals).round() as u64;
    let mut by_year = [0u64; 12];
    for _ in 0..arrivals {
        by_year[rng.random_range(1..=11)] += 1;
    }
    for (y, &n) in by_year.iter().enumerate().skip(1) {
        add_year_group(ctx, la_idx, y as i8, year_a + 1, n, &mut children, rng, &mut upns);
    }
    for c in &mut children[first_joiner..] {
        c.b = c.a.take();
        c.fate = Fate::Joined;
        // Social care's list is of the children on the first roll.
        c.social_care = None;
        if let Some(b) = c.b.as_mut()
            && b.nc_year > 0
        {
            b.entry_date = random_date(rng, ymd(year_a + 1, 9, 1), ctx.census_b);
        }
    }

    // Children on the registers but on neither census.
    background(ctx, la_idx, &mut children, &mut rows, rng, &mut upns);

    // What councils' files hold besides: dual registrations, faulty rows,
    // stale entries, wrong former UPNs, school-arranged AP, the forms of
    // deletion grounds. Then what the files make knowable.
    crate::cases::add(ctx, la_idx, &mut children, &mut rows, rng);
    crate::cases::knowable(ctx, &mut children, &rows);

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

pub(crate) fn school_for(la: &GenLa, y: i8, rng: &mut ChaCha8Rng) -> u32 {
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
    let middle = rng.random_bool(0.6).then(|| table.sample(rng)).filter(|&m| m != forename);
    let surname = ctx.names.surnames.sample(rng);
    let surname2 = rng
        .random_bool(ctx.config.rates.double_barrelled)
        .then(|| ctx.names.surnames.sample(rng))
        .filter(|&s| s != surname && !ctx.names.surnames.get(surname).contains('-'));
    let home = pick_home(ctx, la_idx, rng);
    let dep = deprivation_of(ctx, &home);
    let school = school_for(la, y, rng);
    let special = ctx.england.schools[school as usize].phase == Phase::Special;
    let (sen, sen_need, fsm, sessions) = characteristics(rng, dep, special);
    let upn = upns.issue(rng, year - i32::from(y), None);
    let social_care = social_care_draw(rng, dep, sessions);
    let entry_year = if y >= 7 && ctx.england.schools[school as usize].phase == Phase::Secondary {
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
        surname2,
        ethnicity: crate::sample_ethnicity(rng),
        social_care,
        social_care_between: None,
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
            dual: None,
            faults: 0,
        }),
        b: None,
        fate: Fate::Stayed,
        new_upn: NewUpn::No,
        in_cohort: false,
        upn_evidence: false,
        evidence: false,
        knowable: Knowable::NotInCohort,
        home: None,
        known_upn: None,
        twin: None,
        former_link: None,
        stale_rows: 0,
        flags: 0,
    }
}

/// Draws whether a source row carries the UPN, as it is or mistyped.
pub(crate) fn upn_form(ctx: &Ctx, kind: SourceKind, rng: &mut ChaCha8Rng) -> (bool, bool) {
    let r = &ctx.config.rates;
    let u: f64 = rng.random();
    let blank = r.upn_blank.get(kind);
    if u < blank { (false, false) } else { (true, u < blank + r.upn_mistyped.get(kind)) }
}

/// A source row about child `i` with the UPN drawn at the source's rates.
pub(crate) fn row_for(ctx: &Ctx, kind: SourceKind, i: usize, la: LaCode, rng: &mut ChaCha8Rng) -> SourceRow {
    let (with_upn, upn_mistyped) = upn_form(ctx, kind, rng);
    SourceRow { with_upn, upn_mistyped, ..SourceRow::new(kind, i, la) }
}

/// A deletion notice from `school` on `date` for `meaning`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn deletion(
    ctx: &Ctx,
    i: usize,
    la: LaCode,
    school: Laestab,
    date: NaiveDate,
    meaning: GroundMeaning,
    destination: Option<DestinationCode>,
    rng: &mut ChaCha8Rng,
) -> SourceRow {
    SourceRow {
        date: Some(date),
        ground: ground_for(meaning, date),
        destination,
        laestab: Some(school),
        ..row_for(ctx, SourceKind::Deletion, i, la, rng)
    }
}

/// An AP provider's id: the council's own number for it.
pub fn provider_id(la: LaCode, provider: u16) -> String {
    format!("AP{:03}{:03}", la.number(), provider)
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
    let between = ctx.between();
    if let Fate::Left(dest) = children[i].fate {
        let date = random_date(rng, between.0, between.1);
        leaver_rows(ctx, la_idx, i, dest, date, school_a.laestab, &mut children[i], rows, rng);
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
    b.dual = None;
    b.faults = 0;
    let dep = deprivation_of(ctx, &a.home);
    let special = school_a.phase == Phase::Special;
    let (sen, need, fsm, sessions) = characteristics(rng, dep, special);
    // Needs change slowly: keep the first census's SEN most of the time.
    if rng.random_bool(0.1) {
        b.sen = sen;
        b.sen_need = need;
    }
    b.fsm = if a.fsm { rng.random_bool(0.92) } else { fsm && rng.random_bool(0.12) };
    b.sessions = sessions;
    let u: f64 = rng.random();
    let to_secondary = y == 6 && school_a.phase == Phase::Primary;
    let mainstream = matches!(school_a.phase, Phase::Primary | Phase::Secondary);
    if !to_secondary && mainstream && (5..=10).contains(&y) && rng.random_bool(rates.excluded_to_pru) {
        // Permanently excluded, and on a PRU's roll by the next census.
        b.school = la.aps[rng.random_range(0..la.aps.len())];
        b.entry_date = random_date(rng, between.0, between.1);
        let excluded = shift(b.entry_date, -rng.random_range(1..20));
        let excluded = excluded.max(between.0);
        children[i].fate = Fate::MovedSchool;
        children[i].flags |= flags::EXCLUDED;
        let notice =
            deletion(ctx, i, la.code, school_a.laestab, excluded, GroundMeaning::PermanentlyExcluded, None, rng);
        rows.push(notice);
    } else if to_secondary || u < rates.move_in_la + rates.move_between_las {
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
            let mut notice_upn = false;
            if notice {
                let to = Some(DestinationCode::School(d));
                let row =
                    deletion(ctx, i, la.code, school_a.laestab, b.entry_date, GroundMeaning::OtherSchool, to, rng);
                notice_upn = row.with_upn && !row.upn_mistyped;
                rows.push(row);
            }
            if !other_la && rng.random_bool(rates.new_upn_by_mistake) {
                b.upn = upns.issue(rng, year_b, Some(d.estab()));
                children[i].new_upn = NewUpn::Mistake;
                children[i].upn_evidence = notice_upn;
                children[i].evidence = notice;
            }
        }
    } else {
        children[i].fate = Fate::Stayed;
        if rng.random_bool(0.03) {
            b.home = pick_home(ctx, la_idx, rng);
        }
    }
    if children[i].new_upn == NewUpn::No {
        if rng.random_bool(rates.adoption) {
            // Adopted: a new UPN, the former recorded, usually a new surname.
            b.upn = upns.issue(rng, year_b, None);
            b.former_upn = Some(a.upn);
            children[i].new_upn = NewUpn::Recorded;
            children[i].flags |= flags::ADOPTED;
            if rng.random_bool(0.9) {
                b.surname = other_surname(ctx, b.surname, rng);
            }
        } else if rng.random_bool(rates.new_upn_recorded) {
            b.upn = upns.issue(rng, year_b, None);
            b.former_upn = Some(a.upn);
            children[i].new_upn = NewUpn::Recorded;
        }
    }
    if rng.random_bool(rates.surname_change) {
        b.surname = other_surname(ctx, b.surname, rng);
    }
    if b.surname != a.surname {
        children[i].flags |= flags::SURNAME_CHANGED;
    }
    children[i].b = Some(b);
}

fn other_surname(ctx: &Ctx, now: u16, rng: &mut ChaCha8Rng) -> u16 {
    let s = ctx.names.surnames.sample(rng);
    if s == now { (s + 1) % ctx.names.surnames.len() as u16 } else { s }
}

/// The rows a leaver to `dest` leaves behind, the child leaving school
/// `school` on `date`.
#[allow(clippy::too_many_arguments)]
fn leaver_rows(
    ctx: &Ctx,
    la_idx: usize,
    i: usize,
    dest: Destination,
    date: NaiveDate,
    school: Laestab,
    child: &mut Child,
    rows: &mut Vec<SourceRow>,
    rng: &mut ChaCha8Rng,
) {
    use GroundMeaning as G;
    use SourceKind as K;
    let la = &ctx.england.las[la_idx];
    let last = ctx.between().1;
    let after = |rng: &mut ChaCha8Rng, days: i64| shift(date, rng.random_range(0..=days)).min(last);
    let notice = |rng: &mut ChaCha8Rng, meaning, to| deletion(ctx, i, la.code, school, date, meaning, to, rng);
    match dest {
        Destination::HomeEducation => {
            let date = after(rng, 14);
            rows.push(SourceRow { date: Some(date), ..row_for(ctx, K::HomeEducation, i, la.code, rng) });
            if rng.random_bool(0.85) {
                rows.push(notice(rng, G::HomeEducation, None));
            }
        }
        Destination::Cme => {
            let status = if rng.random_bool(0.7) { "known" } else { "suspected" };
            let date = after(rng, 30);
            rows.push(SourceRow { date: Some(date), status: Some(status), ..row_for(ctx, K::Cme, i, la.code, rng) });
            if rng.random_bool(0.6) {
                rows.push(notice(rng, G::ContinuousAbsence, Some(DestinationCode::Unknown)));
            }
        }
        Destination::Unknown => {
            if rng.random_bool(0.7) {
                let u: f64 = rng.random();
                let g = if u < 0.6 {
                    G::ContinuousAbsence
                } else if u < 0.9 {
                    G::MovedAway
                } else {
                    G::LeaveOfAbsence
                };
                rows.push(notice(rng, g, Some(DestinationCode::Unknown)));
            }
        }
        Destination::IndependentSchool => {
            let s = &ctx.england.schools[la.independents[rng.random_range(0..la.independents.len())] as usize];
            let date_in = after(rng, 7);
            let urn_only = rng.random_bool(ctx.config.rates.independent_urn_only);
            let both = !urn_only && rng.random_bool(0.1);
            rows.push(SourceRow {
                date: Some(date_in),
                laestab: (!urn_only).then_some(s.laestab),
                urn: (urn_only || both).then_some(s.urn),
                ..row_for(ctx, K::IndependentRoll, i, la.code, rng)
            });
            if rng.random_bool(0.6) {
                rows.push(notice(rng, G::OtherSchool, Some(DestinationCode::School(s.laestab))));
            }
        }
        Destination::Abroad => {
            if rng.random_bool(0.85) {
                rows.push(notice(rng, G::MovedAway, Some(DestinationCode::Abroad)));
            }
        }
        Destination::OutsideEngland => {
            if rng.random_bool(0.80) {
                let welsh = Laestab::new(rng.random_range(660..=681), rng.random_range(2000..4999));
                rows.push(notice(rng, G::MovedAway, Some(DestinationCode::School(welsh))));
            }
        }
        Destination::Died => rows.push(notice(rng, G::Died, None)),
        Destination::Custody => {
            if rng.random_bool(0.7) {
                rows.push(notice(rng, G::Detained, None));
            }
        }
        Destination::AlternativeProvision => {
            // Most LA-arranged placements of children off roll follow a
            // permanent exclusion; the rest are medical or EHCP provision.
            if rng.random_bool(0.6) {
                child.flags |= flags::EXCLUDED;
                rows.push(notice(rng, G::PermanentlyExcluded, None));
            }
            if rng.random_bool(0.9) {
                let start = after(rng, 21);
                let end = rng.random_bool(0.4).then(|| shift(ctx.census_b, rng.random_range(1..120)));
                rows.push(SourceRow {
                    date: Some(start),
                    end_date: end,
                    provider: Some(rng.random_range(1..=providers(la))),
                    hours: rng.random_range(10..=25),
                    ..row_for(ctx, K::AlternativeProvision, i, la.code, rng)
                });
            }
        }
        Destination::AnotherSchool => {}
    }
}

/// How many AP providers an LA uses.
pub(crate) fn providers(la: &GenLa) -> u16 {
    (la.pupils / 15_000).clamp(2, 60) as u16
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
    use SourceKind as K;
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
            c.social_care = None;
            c.fate = Fate::NotOnRoll;
            let mut row = SourceRow::new(kind, children.len(), la.code);
            if kind == K::IndependentRoll {
                let s = &ctx.england.schools[la.independents[rng.random_range(0..la.independents.len())] as usize];
                if rng.random_bool(r.independent_urn_only) {
                    row.urn = Some(s.urn);
                } else {
                    row.laestab = Some(s.laestab);
                }
            }
            if kind == K::Cme {
                row.status = Some(if rng.random_bool(0.6) { "known" } else { "suspected" });
            }
            row.date = Some(random_date(rng, ymd(year_a - 3, 9, 1), ctx.census_b));
            row.with_upn = rng.random_bool(upn_share);
            row.upn_mistyped = row.with_upn && rng.random_bool(r.upn_mistyped.get(kind));
            rows.push(row);
            children.push(c);
        }
    }
}
