//! A small synthetic population of children in households, made by hand for
//! linkage tests: two censuses (each listing a child once) and three lists
//! that may not carry the UPN, with twins in one household, children given
//! a new UPN by mistake between the censuses, moves, nicknames and middle
//! names used as forenames, surname changes, typos, day-month swaps and
//! mistyped UPNs. Deterministic for a seed.

#![allow(dead_code)]

use chrono::{Datelike, NaiveDate};
use cnis_core::records::{LinkRecord, Sex};
use cnis_core::{LaCode, Upn};
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const BOYS: &[&str] = &[
    "Oliver",
    "George",
    "Arthur",
    "Noah",
    "Muhammad",
    "Leo",
    "Oscar",
    "Harry",
    "Archie",
    "Jack",
    "Henry",
    "Charlie",
    "Freddie",
    "Theodore",
    "Thomas",
    "Finley",
    "Theo",
    "Alfie",
    "Jacob",
    "William",
    "Isaac",
    "Tommy",
    "Joshua",
    "James",
    "Lucas",
    "Alexander",
    "Arlo",
    "Roman",
    "Edward",
    "Teddy",
    "Joseph",
    "Albie",
    "Max",
    "Elijah",
    "Samuel",
    "Reggie",
    "Benjamin",
    "Daniel",
    "Ronnie",
    "Adam",
    "Ethan",
    "Hugo",
    "Rory",
    "Louie",
    "Sebastian",
    "Hunter",
    "Ezra",
    "Dylan",
    "Mason",
    "Reuben",
];
const GIRLS: &[&str] = &[
    "Olivia",
    "Amelia",
    "Isla",
    "Lily",
    "Ava",
    "Freya",
    "Ivy",
    "Florence",
    "Willow",
    "Isabella",
    "Mia",
    "Elsie",
    "Grace",
    "Sophia",
    "Evie",
    "Poppy",
    "Ella",
    "Evelyn",
    "Rosie",
    "Sienna",
    "Daisy",
    "Charlotte",
    "Harper",
    "Isabelle",
    "Alice",
    "Sofia",
    "Ruby",
    "Phoebe",
    "Maya",
    "Emily",
    "Matilda",
    "Millie",
    "Sophie",
    "Ada",
    "Penelope",
    "Hallie",
    "Eliza",
    "Luna",
    "Aria",
    "Maisie",
    "Lottie",
    "Hannah",
    "Ayla",
    "Iris",
    "Harriet",
    "Esme",
    "Jessica",
    "Violet",
    "Bonnie",
    "Margot",
];
const NICKNAMES: &[(&str, &str)] = &[
    ("Alexander", "Alex"),
    ("Benjamin", "Ben"),
    ("Daniel", "Dan"),
    ("Samuel", "Sam"),
    ("Thomas", "Tom"),
    ("William", "Will"),
    ("Joshua", "Josh"),
    ("Elizabeth", "Beth"),
    ("Isabella", "Bella"),
    ("Charlotte", "Lottie"),
    ("Florence", "Flo"),
    ("Penelope", "Penny"),
];
const SURNAMES: &[&str] = &[
    "Smith",
    "Jones",
    "Williams",
    "Taylor",
    "Brown",
    "Davies",
    "Evans",
    "Wilson",
    "Thomas",
    "Johnson",
    "Roberts",
    "Robinson",
    "Thompson",
    "Wright",
    "Walker",
    "White",
    "Edwards",
    "Hughes",
    "Green",
    "Hall",
    "Lewis",
    "Harris",
    "Clarke",
    "Patel",
    "Jackson",
    "Wood",
    "Turner",
    "Martin",
    "Cooper",
    "Hill",
    "Ward",
    "Morris",
    "Moore",
    "Clark",
    "Lee",
    "King",
    "Baker",
    "Harrison",
    "Morgan",
    "Allen",
    "James",
    "Scott",
    "Phillips",
    "Watson",
    "Davis",
    "Parker",
    "Price",
    "Bennett",
    "Young",
    "Griffiths",
    "Mitchell",
    "Kelly",
    "Cook",
    "Carter",
    "Richardson",
    "Bailey",
    "Collins",
    "Bell",
    "Shaw",
    "Murphy",
    "Miller",
    "Cox",
    "Richards",
    "Khan",
    "Marshall",
    "Anderson",
    "Simpson",
    "Ellis",
    "Adams",
    "Singh",
    "Begum",
    "Wilkinson",
    "Foster",
    "Chapman",
    "Powell",
    "Webb",
    "Rogers",
    "Gray",
    "Mason",
    "Ali",
    "Hunt",
    "Hussain",
    "Campbell",
    "Matthews",
    "Owen",
    "Palmer",
    "Holmes",
    "Mills",
    "Barnes",
    "Knight",
    "Lloyd",
    "Butler",
    "Russell",
    "Barker",
    "Fisher",
    "Stevens",
    "Jenkins",
    "Murray",
    "Dixon",
    "Harvey",
    "Nowak",
    "Kowalski",
    "Okafor",
    "Adeyemi",
    "Ahmed",
    "Rahman",
    "Begum",
    "Chowdhury",
    "Osei",
    "Mensah",
];
const STREETS: &[&str] = &[
    "Church Street",
    "High Street",
    "Elm Road",
    "Station Road",
    "Victoria Road",
    "Green Lane",
    "Manor Road",
    "Park Avenue",
    "Queens Road",
    "New Road",
    "Grange Road",
    "Kings Road",
    "Mill Lane",
    "The Crescent",
    "Springfield Road",
    "School Lane",
    "Chestnut Close",
    "Windsor Road",
    "North Street",
    "Albert Road",
];

/// How the population is made.
#[derive(Debug, Clone, Copy)]
pub struct Rates {
    /// Households.
    pub households: usize,
    /// Share of households with a pair of twins.
    pub twins: f64,
    /// Share of children on the second census under a new UPN, issued by
    /// mistake, with no former UPN recorded.
    pub new_upn: f64,
    /// Share of children who moved home between the censuses.
    pub moved: f64,
    /// Share of children on each of the three lists.
    pub listed: f64,
    /// Per record: chance of each kind of error.
    pub noise: f64,
}

impl Default for Rates {
    fn default() -> Self {
        Rates { households: 1500, twins: 0.3, new_upn: 0.03, moved: 0.05, listed: 0.1, noise: 0.03 }
    }
}

/// A child, as the truth knows them.
#[derive(Debug, Clone)]
pub struct Child {
    pub id: usize,
    pub household: usize,
    pub twin_of: Option<usize>,
    pub forename: String,
    pub middle: Option<String>,
    pub surname: String,
    pub dob: NaiveDate,
    pub sex: Sex,
    pub upn: Upn,
    pub second_upn: Option<Upn>,
    pub postcode: String,
    pub address: String,
}

/// The population and its records.
pub struct Population {
    pub children: Vec<Child>,
    pub records: Vec<LinkRecord>,
}

fn upn(la: u16, serial: u32) -> Upn {
    let la = LaCode::from_number(la).expect("LA");
    Upn::from_parts(la, 2000 + (serial / 1000) as u16 % 100, 10 + (serial / 100_000) as u8 % 90, (serial % 1000) as u16)
        .expect("upn")
}

fn postcode(rng: &mut ChaCha8Rng) -> String {
    const LETTERS: &[u8] = b"ABDEFGHJLNPQRSTUWXYZ";
    let area = ["QA", "QB", "VA", "XA"].choose(rng).copied().unwrap_or("QA");
    let district = rng.random_range(1..10);
    let sector = rng.random_range(0..10);
    let unit: String = (0..2).map(|_| LETTERS[rng.random_range(0..LETTERS.len())] as char).collect();
    format!("{area}{district} {sector}{unit}")
}

/// A name that is not a variant of any in `not` (brothers and sisters, and
/// a child's own forename for a middle name).
fn different_name<'a>(rng: &mut ChaCha8Rng, pool: &[&'a str], not: &[String]) -> &'a str {
    loop {
        let n = pool.choose(rng).copied().unwrap_or("Sam");
        if not
            .iter()
            .all(|x| strsim::jaro_winkler(&n.to_uppercase(), &x.to_uppercase()) < 0.8 && !n.starts_with(&x[..2]))
        {
            return n;
        }
    }
}

impl Population {
    /// Makes a population.
    pub fn new(seed: u64, rates: Rates) -> Population {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut children = Vec::new();
        for h in 0..rates.households {
            let surname = SURNAMES.choose(&mut rng).copied().unwrap_or("Smith").to_string();
            let pc = postcode(&mut rng);
            let address = format!("{} {}", rng.random_range(1..200), STREETS.choose(&mut rng).copied().unwrap_or(""));
            let twins = rng.random_bool(rates.twins);
            let singles = rng.random_range(if twins { 0..2 } else { 1..4 });
            let mut births: Vec<(NaiveDate, usize)> = Vec::new();
            for _ in 0..singles {
                let d = NaiveDate::from_ymd_opt(2008, 9, 1).expect("date")
                    + chrono::Duration::days(rng.random_range(0..365 * 10));
                births.push((d, 1));
            }
            if twins {
                let d = NaiveDate::from_ymd_opt(2008, 9, 1).expect("date")
                    + chrono::Duration::days(rng.random_range(0..365 * 10));
                births.push((d, 2));
            }
            // Brothers and sisters have names that are not variants of each
            // other's, and a middle name is no brother's or sister's forename.
            let mut taken: Vec<String> = Vec::new();
            for (dob, n) in births {
                let first = children.len();
                for k in 0..n {
                    let sex = if rng.random_bool(0.5) { Sex::Male } else { Sex::Female };
                    let pool = if sex == Sex::Male { BOYS } else { GIRLS };
                    let forename = different_name(&mut rng, pool, &taken).to_string();
                    taken.push(forename.clone());
                    let middle = rng.random_bool(0.6).then(|| different_name(&mut rng, pool, &taken).to_string());
                    taken.extend(middle.clone());
                    let id = children.len();
                    children.push(Child {
                        id,
                        household: h,
                        twin_of: (k == 1).then_some(first),
                        forename,
                        middle,
                        surname: surname.clone(),
                        dob,
                        sex,
                        upn: upn(801, id as u32 + 1),
                        second_upn: None,
                        postcode: pc.clone(),
                        address: address.clone(),
                    });
                    if k == 1 {
                        children[first].twin_of = Some(id);
                    }
                }
            }
        }
        let mut records = Vec::new();
        let n = children.len();
        for c in children.iter_mut() {
            if rng.random_bool(rates.new_upn) {
                c.second_upn = Some(upn(802, (n + c.id) as u32 + 1));
            }
        }
        for c in &children {
            records.push(record(&mut rng, c, "census-2022", "a", rates.noise));
            // Most children are on the second census too, some at a new home.
            if rng.random_bool(0.97) {
                let mut moved = c.clone();
                if rng.random_bool(rates.moved) {
                    moved.postcode = postcode(&mut rng);
                    moved.address =
                        format!("{} {}", rng.random_range(1..200), STREETS.choose(&mut rng).copied().unwrap_or(""));
                }
                if let Some(u) = c.second_upn {
                    moved.upn = u;
                }
                records.push(record(&mut rng, &moved, "census-2023", "b", rates.noise));
            }
            for list in ["cme", "home-education", "social-care"] {
                if rng.random_bool(rates.listed) {
                    let mut r = record(&mut rng, c, list, &list[..1], rates.noise * 2.0);
                    if rng.random_bool(0.4) {
                        r.upn = None;
                        r.upn_text = None;
                    }
                    records.push(r);
                }
            }
        }
        Population { children, records }
    }

    /// Writes the records in the linkage layout (a UPN that failed its
    /// check is in the file as written).
    pub fn write_csv(&self, path: &std::path::Path) -> std::io::Result<()> {
        use std::io::Write;
        let mut w = std::io::BufWriter::new(std::fs::File::create(path)?);
        writeln!(w, "{}", cnis_core::records::columns::LINK.join(","))?;
        let text = |s: &Option<String>| s.clone().unwrap_or_default();
        for r in &self.records {
            let cells = [
                r.source.clone(),
                r.record_id.clone(),
                r.upn.map(|u| u.to_string()).or_else(|| r.upn_text.clone()).unwrap_or_default(),
                r.former_upn.map(|u| u.to_string()).unwrap_or_default(),
                String::new(),
                text(&r.forename),
                text(&r.middle_names),
                text(&r.surname),
                text(&r.former_surname),
                r.dob.map(|d| d.to_string()).unwrap_or_default(),
                r.sex.map(|s| s.code().to_string()).unwrap_or_default(),
                text(&r.postcode),
                text(&r.address),
                text(&r.truth),
                String::new(),
            ];
            writeln!(w, "{}", cells.join(","))?;
        }
        w.flush()
    }

    /// The records, with census sources marked as listing each child once.
    pub fn prepared(&self) -> cnis_link::Prepared {
        let mut p = cnis_link::Prepared::new(&self.records);
        p.mark_unique("census-2022");
        p.mark_unique("census-2023");
        p
    }
}

/// One record of child `c` in `source`, with noise.
fn record(rng: &mut ChaCha8Rng, c: &Child, source: &str, prefix: &str, noise: f64) -> LinkRecord {
    let mut r = LinkRecord {
        source: source.to_string(),
        record_id: format!("{prefix}{}", c.id),
        upn: Some(c.upn),
        forename: Some(c.forename.clone()),
        middle_names: c.middle.clone(),
        surname: Some(c.surname.clone()),
        dob: Some(c.dob),
        sex: Some(c.sex),
        postcode: Some(c.postcode.clone()),
        address: Some(c.address.clone()),
        truth: Some(c.id.to_string()),
        ..LinkRecord::default()
    };
    let noisy = noise.min(1.0);
    if rng.random_bool(noisy) {
        r.forename = r.forename.map(|f| cnis_synth::typo(&f, rng));
    } else if rng.random_bool(noisy) {
        // Known by a nickname, or by the middle name.
        if let Some(&(_, short)) = NICKNAMES.iter().find(|(long, _)| *long == c.forename) {
            r.forename = Some(short.to_string());
        } else if let Some(m) = &c.middle {
            r.forename = Some(m.clone());
            r.middle_names = None;
        }
    }
    if rng.random_bool(noisy) {
        r.surname = r.surname.map(|s| cnis_synth::typo(&s, rng));
    } else if rng.random_bool(noisy / 3.0) {
        // A new surname, the old one recorded, or double-barrelled.
        if rng.random_bool(0.5) {
            r.former_surname = r.surname.clone();
            r.surname = SURNAMES.choose(rng).map(|s| s.to_string());
        } else {
            r.surname = r.surname.map(|s| format!("{s}-{}", SURNAMES.choose(rng).copied().unwrap_or("Lee")));
        }
    }
    if rng.random_bool(noisy / 3.0) {
        // Forename and surname swapped.
        std::mem::swap(&mut r.forename, &mut r.surname);
    }
    if rng.random_bool(noisy) {
        r.dob = r.dob.and_then(|d| {
            if d.day() <= 12 && rng.random_bool(0.5) {
                NaiveDate::from_ymd_opt(d.year(), d.day(), d.month())
            } else {
                Some(d + chrono::Duration::days(rng.random_range(1..4)))
            }
        });
    }
    if rng.random_bool(noisy) {
        r.postcode = r.postcode.map(|p| cnis_synth::typo(&p, rng));
    } else if rng.random_bool(noisy) {
        r.postcode = None;
    }
    if rng.random_bool(noisy) {
        r.address = r.address.map(|a| cnis_synth::typo(&a, rng));
    } else if rng.random_bool(noisy) {
        r.address = None;
    }
    if rng.random_bool(noisy / 3.0) {
        r.middle_names = None;
    }
    if let Some(u) = r.upn
        && rng.random_bool(noisy / 3.0)
    {
        // Mistyped: kept as written, two digits swapped.
        let mut t: Vec<char> = u.as_str().chars().collect();
        t.swap(6, 7);
        let text: String = t.into_iter().collect();
        if Upn::parse(&text).is_err() {
            r.upn = None;
            r.upn_text = Some(text);
        }
    }
    if rng.random_bool(noisy / 3.0) {
        r.sex = None;
    }
    r
}
