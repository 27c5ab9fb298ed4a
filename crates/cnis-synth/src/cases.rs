//! The awkward cases councils' files hold, added once every child's fate is
//! known: social-care episodes with their dates, dual registrations, census
//! rows returned twice or with a mistyped UPN, school-arranged AP, register
//! entries and deletion notices from an earlier spell, register entries for
//! children still on roll, wrong former UPNs, and the forms deletion grounds
//! are written in. Then [`knowable`] works out, for each child of the
//! leaver cohort, what the files make knowable.

use chrono::NaiveDate;
use cnis_core::LaCode;
use cnis_core::records::{Destination, DestinationCode, GroundMeaning, SourceKind};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::geo::{GenLa, Phase};
use crate::people::{
    Child, Ctx, Dual, Enrol, Fate, GroundForm, Knowable, SocialCare, SourceRow, deletion, flags, providers,
    random_date, row_faults, row_for, school_for, shift,
};

const YEAR: i64 = 365;

/// Social care's list: every episode of the children on the first roll
/// known to social care, with start and end dates. Children known on the
/// first census day have an open episode then (a plan may end before the
/// second census); a few others have only an episode that ended years
/// before, or a s.47 enquiry that began between the censuses.
pub(crate) fn social_care(
    ctx: &Ctx,
    la: LaCode,
    children: &mut [Child],
    rows: &mut Vec<SourceRow>,
    rng: &mut ChaCha8Rng,
) {
    let (a, b) = (ctx.census_a, ctx.census_b);
    let between = ctx.between();
    let mut episodes: Vec<(SocialCare, NaiveDate, Option<NaiveDate>)> = Vec::new();
    for (i, c) in children.iter_mut().enumerate() {
        if c.a.is_none() {
            continue;
        }
        episodes.clear();
        let born = c.dob;
        let since = |rng: &mut ChaCha8Rng, days: i64| random_date(rng, shift(a, -days).max(born), shift(a, -7));
        let ends_between =
            |rng: &mut ChaCha8Rng, p: f64| rng.random_bool(p).then(|| random_date(rng, between.0, between.1));
        match c.social_care {
            Some(SocialCare::Cla) => {
                let start = since(rng, 5 * YEAR);
                if rng.random_bool(0.5) {
                    let cin = shift(start, -rng.random_range(30..400)).max(born);
                    episodes.push((SocialCare::Cin, cin, Some(shift(start, -1).max(cin))));
                }
                episodes.push((SocialCare::Cla, start, ends_between(rng, 0.15)));
            }
            Some(SocialCare::Cpp) => {
                let start = since(rng, 2 * YEAR);
                let s47 = shift(start, -rng.random_range(14..50)).max(born);
                episodes.push((SocialCare::S47, s47, Some(shift(start, -rng.random_range(1..7)).max(s47))));
                if rng.random_bool(0.5) {
                    episodes.push((SocialCare::Cin, s47, None));
                }
                episodes.push((SocialCare::Cpp, start, ends_between(rng, 0.4)));
            }
            Some(SocialCare::S47) => {
                let start = since(rng, 40);
                let end = shift(a, rng.random_range(1..30));
                episodes.push((SocialCare::S47, start, Some(end)));
                if rng.random_bool(0.3) {
                    episodes.push((SocialCare::Cpp, shift(end, 1), None));
                }
            }
            Some(SocialCare::Cin) => {
                let start = since(rng, 3 * YEAR);
                episodes.push((SocialCare::Cin, start, ends_between(rng, 0.5)));
            }
            None => {
                if rng.random_bool(0.02) {
                    // An episode long closed.
                    let start = random_date(rng, shift(a, -6 * YEAR).max(born), shift(a, -YEAR));
                    let end = random_date(rng, shift(start, 60), shift(a, -30));
                    episodes.push((SocialCare::Cin, start, Some(end)));
                } else if rng.random_bool(0.01) {
                    // A s.47 enquiry that began after the first census.
                    let start = random_date(rng, between.0, shift(between.1, -14));
                    episodes.push((SocialCare::S47, start, Some(shift(start, rng.random_range(14..42)).min(b))));
                    if rng.random_bool(0.4) {
                        episodes.push((SocialCare::Cin, start, None));
                    }
                }
            }
        }
        c.social_care_between =
            episodes.iter().filter(|(_, start, end)| *start <= b && end.is_none_or(|e| e >= a)).map(|e| e.0).max();
        for &(status, start, end) in &episodes {
            rows.push(SourceRow {
                status: Some(status.code()),
                date: Some(start),
                end_date: end,
                ..row_for(ctx, SourceKind::SocialCare, i, la, rng)
            });
        }
    }
}

/// A dual registration at one of the LA's PRUs, for a pupil in Years 5-11
/// at a mainstream school.
fn dual(ctx: &Ctx, la: &GenLa, e: &Enrol, census: NaiveDate, rng: &mut ChaCha8Rng) -> Option<Box<Dual>> {
    let phase = ctx.england.schools[e.school as usize].phase;
    if !(5..=11).contains(&e.nc_year) || !matches!(phase, Phase::Primary | Phase::Secondary) {
        return None;
    }
    let school = la.aps[rng.random_range(0..la.aps.len())];
    let possible = rng.random_range(20..70);
    let absent = rng.random_range(0..possible / 3);
    let unauthorised = rng.random_range(0..=absent);
    Some(Box::new(Dual {
        school,
        both_main: rng.random_bool(ctx.config.rates.both_main),
        subsidiary_first: rng.random_bool(ctx.config.rates.subsidiary_first),
        entry_date: random_date(rng, shift(census, -200).max(e.entry_date), shift(census, -7)),
        sessions: [possible, absent - unauthorised, unauthorised],
    }))
}

fn census_faults(ctx: &Ctx, e: &mut Enrol, mistyped: f64, rng: &mut ChaCha8Rng) {
    if rng.random_bool(mistyped) {
        e.faults |= row_faults::UPN_MISTYPED;
    }
    if e.dual.is_none() && rng.random_bool(ctx.config.rates.duplicate_row) {
        e.faults |= row_faults::DUPLICATE;
        if rng.random_bool(0.5) {
            e.faults |= row_faults::DUPLICATE_DIFFERS;
        }
    }
}

/// Adds the awkward cases to one LA's children and rows.
pub(crate) fn add(ctx: &Ctx, la_idx: usize, children: &mut [Child], rows: &mut Vec<SourceRow>, rng: &mut ChaCha8Rng) {
    let la = &ctx.england.las[la_idx];
    let r = &ctx.config.rates;
    let (census_a, census_b) = (ctx.census_a, ctx.census_b);
    let between = ctx.between();

    // Dual registrations and faulty census rows.
    for c in children.iter_mut() {
        let same_school = matches!((&c.a, &c.b), (Some(a), Some(b)) if a.school == b.school);
        let mut dual_a = None;
        if let Some(a) = c.a.as_mut() {
            if rng.random_bool(r.dual_registration) {
                a.dual = dual(ctx, la, a, census_a, rng);
            }
            census_faults(ctx, a, r.census_a_upn_mistyped, rng);
            dual_a = a.dual.clone();
        }
        if let Some(b) = c.b.as_mut() {
            if let (true, Some(mut d)) = (same_school, dual_a.filter(|_| rng.random_bool(0.5))) {
                // Still at the PRU part-time a year on.
                d.subsidiary_first = rng.random_bool(r.subsidiary_first);
                d.sessions[1] = rng.random_range(0..d.sessions[0] / 3);
                d.sessions[2] = 0;
                b.dual = Some(d);
            } else if rng.random_bool(r.dual_registration) {
                b.dual = dual(ctx, la, b, census_b, rng);
            }
            census_faults(ctx, b, r.census_b_upn_mistyped, rng);
        }
    }

    // School-arranged AP for pupils on roll at both censuses.
    for (i, c) in children.iter_mut().enumerate() {
        let Some(b) = c.b.as_ref() else { continue };
        if c.a.is_none() || !(5..=11).contains(&b.nc_year) || !rng.random_bool(r.school_arranged_ap) {
            continue;
        }
        let start = random_date(rng, shift(census_a, -120), shift(census_b, -21));
        let end = if rng.random_bool(r.ap_ended) {
            Some(random_date(rng, shift(start, 28).min(between.1), between.1))
        } else if rng.random_bool(0.5) {
            Some(shift(census_b, rng.random_range(1..150)))
        } else {
            None
        };
        c.flags |= flags::SCHOOL_AP;
        rows.push(SourceRow {
            date: Some(start),
            end_date: end,
            provider: Some(rng.random_range(1..=providers(la))),
            hours: rng.random_range(3..=15),
            ..row_for(ctx, SourceKind::AlternativeProvision, i, la.code, rng)
        });
    }

    // Rows from an earlier spell.
    for i in 0..children.len() {
        let c = &children[i];
        if !c.in_cohort || c.a.is_none() {
            continue;
        }
        let leaver = matches!(c.fate, Fate::Left(_));
        let p = r.stale_rows + if leaver { r.stale_rows_leaver } else { 0.0 };
        if rng.random_bool(p.clamp(0.0, 1.0)) {
            stale(ctx, la, i, children, rows, rng);
        }
    }

    // Current register entries for children still on roll at the second census.
    for (i, c) in children.iter_mut().enumerate() {
        if !c.in_cohort || c.a.is_none() || c.b.is_none() || !rng.random_bool(r.register_on_roll) {
            continue;
        }
        let date = random_date(rng, between.0, shift(between.1, -8));
        let end = rng.random_bool(0.5).then(|| random_date(rng, shift(date, 7), between.1));
        let row = if rng.random_bool(0.6) {
            SourceRow { date: Some(date), end_date: end, ..row_for(ctx, SourceKind::HomeEducation, i, la.code, rng) }
        } else {
            let status = if rng.random_bool(0.5) { "known" } else { "suspected" };
            SourceRow {
                date: Some(date),
                end_date: end,
                status: Some(status),
                ..row_for(ctx, SourceKind::Cme, i, la.code, rng)
            }
        };
        c.flags |= flags::REGISTER_ON_ROLL;
        rows.push(row);
    }

    // A household moves together.
    for i in 0..children.len() {
        let Some(j) = children[i].twin.map(|j| j as usize).filter(|&j| j < i) else { continue };
        if let (Some(first), Some(second)) = (children[j].b.as_ref().map(|b| b.home), children[i].b.as_mut())
            && first.la == second.home.la
        {
            second.home = first;
        }
    }

    // How this LA's schools write deletion grounds.
    let letters_file = rng.random_bool(r.letters_file);
    for row in rows.iter_mut().filter(|row| row.kind == SourceKind::Deletion) {
        if letters_file {
            row.letters_file = true;
            row.ground_form = if rng.random_bool(0.5) { GroundForm::Letter } else { GroundForm::Bracketed };
            if !row.stale && rng.random_bool(r.letters_file_undated) {
                row.date = None;
            }
        } else if rng.random_bool(r.ground_letter_only) {
            row.ground_form = if rng.random_bool(0.7) { GroundForm::Letter } else { GroundForm::Bracketed };
        }
    }
}

/// Gives child `i` an earlier spell: they came back to their school (or
/// joined it) after being home educated, missing education, deleted from
/// another school or in a placement, and a row from that spell remains.
fn stale(ctx: &Ctx, la: &GenLa, i: usize, children: &mut [Child], rows: &mut Vec<SourceRow>, rng: &mut ChaCha8Rng) {
    let census_a = ctx.census_a;
    let dob = children[i].dob;
    let Some(a) = children[i].a.as_mut() else { return };
    let old_entry = a.entry_date;
    let entry = random_date(rng, old_entry.max(shift(census_a, -3 * YEAR)), shift(census_a, -30));
    let school_age = shift(dob, 5 * YEAR);
    let earliest = shift(entry, -2 * YEAR).max(school_age);
    let latest = shift(entry, -21);
    if earliest >= latest {
        return;
    }
    a.entry_date = entry;
    let (school, nc_year) = (a.school, a.nc_year);
    if let Some(b) = children[i].b.as_mut()
        && b.school == school
        && b.entry_date == old_entry
    {
        b.entry_date = entry;
    }
    let spell = random_date(rng, earliest, shift(latest, -7));
    let spell_end = random_date(rng, shift(spell, 7), shift(entry, -1));
    let mut previous = school_for(la, (nc_year - 1).max(0), rng);
    if previous == school {
        previous = school_for(la, (nc_year - 1).max(0), rng);
    }
    let previous = ctx.england.schools[previous as usize].laestab;
    let mut new_rows = Vec::new();
    let u: f64 = rng.random();
    if u < 0.45 {
        let end = rng.random_bool(0.6).then_some(spell_end);
        new_rows.push(SourceRow {
            date: Some(spell),
            end_date: end,
            ..row_for(ctx, SourceKind::HomeEducation, i, la.code, rng)
        });
        if rng.random_bool(0.4) {
            new_rows.push(deletion(ctx, i, la.code, previous, spell, GroundMeaning::HomeEducation, None, rng));
        }
    } else if u < 0.65 {
        let end = rng.random_bool(0.5).then_some(spell_end);
        new_rows.push(SourceRow {
            date: Some(spell),
            end_date: end,
            status: Some("known"),
            ..row_for(ctx, SourceKind::Cme, i, la.code, rng)
        });
    } else if u < 0.9 {
        let v: f64 = rng.random();
        let (meaning, to) = if v < 0.4 {
            (GroundMeaning::ContinuousAbsence, Some(DestinationCode::Unknown))
        } else if v < 0.7 {
            (GroundMeaning::HomeEducation, None)
        } else {
            (GroundMeaning::MovedAway, Some(DestinationCode::Unknown))
        };
        new_rows.push(deletion(ctx, i, la.code, previous, spell, meaning, to, rng));
    } else {
        // A placement that ended before the first census.
        let start = random_date(rng, shift(census_a, -2 * YEAR), shift(census_a, -60));
        let end = random_date(rng, shift(start, 14), shift(census_a, -2));
        new_rows.push(SourceRow {
            date: Some(start),
            end_date: Some(end),
            provider: Some(rng.random_range(1..=providers(la))),
            hours: rng.random_range(3..=25),
            ..row_for(ctx, SourceKind::AlternativeProvision, i, la.code, rng)
        });
    }
    children[i].stale_rows = children[i].stale_rows.saturating_add(new_rows.len() as u8);
    rows.extend(new_rows.into_iter().map(|r| SourceRow { stale: true, ..r }));
}

/// Some second-census pupils carry an unrelated child's UPN as their
/// FormerUPN: a leaver's (even a CME child's) or any first-roll pupil's,
/// from anywhere in England (a common transfer file sent to the wrong
/// school). Run once over the whole population, after the LAs.
pub(crate) fn wrong_former_upns(rates: &crate::Rates, children: &mut [Child], rng: &mut ChaCha8Rng) {
    let leavers: Vec<usize> =
        (0..children.len()).filter(|&i| matches!(children[i].fate, Fate::Left(_)) && children[i].a.is_some()).collect();
    let cme: Vec<usize> =
        leavers.iter().copied().filter(|&i| children[i].fate == Fate::Left(Destination::Cme)).collect();
    if children.is_empty() {
        return;
    }
    for i in 0..children.len() {
        let c = &children[i];
        let eligible = c.b.as_ref().is_some_and(|b| b.former_upn.is_none())
            && c.former_link.is_none()
            && c.new_upn == crate::NewUpn::No;
        if !eligible || !rng.random_bool(rates.wrong_former_upn) {
            continue;
        }
        let group: Option<&[usize]> = if !leavers.is_empty() && rng.random_bool(rates.wrong_former_upn_leaver) {
            Some(if !cme.is_empty() && rng.random_bool(0.3) { &cme } else { &leavers })
        } else {
            None
        };
        // A child's UPN is carried by one other child at most; a few tries
        // find one not yet used.
        let acceptable = |v: usize| {
            v != i && c.twin != Some(v as u32) && children[v].former_link.is_none() && children[v].a.is_some()
        };
        let Some(victim) = (0..20)
            .map(|_| match group {
                Some(g) => g[rng.random_range(0..g.len())],
                None => rng.random_range(0..children.len()),
            })
            .find(|&v| acceptable(v))
        else {
            continue;
        };
        let Some(upn) = children[victim].a.as_ref().map(|a| a.upn) else { continue };
        if let Some(b) = children[i].b.as_mut() {
            b.former_upn = Some(upn);
        }
        children[i].flags |= flags::WRONG_FORMER_UPN;
        children[i].former_link = Some(victim as u32);
        children[victim].flags |= flags::FORMER_UPN_VICTIM;
        children[victim].former_link = Some(i as u32);
    }
}

/// What a current source row says of where a child went, read as the
/// generator means it (docs/synth.md, "The truth").
pub(crate) fn row_gives(ctx: &Ctx, r: &SourceRow) -> Option<Destination> {
    use GroundMeaning as G;
    match r.kind {
        SourceKind::HomeEducation => Some(Destination::HomeEducation),
        SourceKind::Cme => Some(Destination::Cme),
        SourceKind::IndependentRoll => Some(Destination::IndependentSchool),
        SourceKind::AlternativeProvision => Some(Destination::AlternativeProvision),
        SourceKind::SocialCare => None,
        SourceKind::Deletion => match r.ground?.meaning() {
            G::HomeEducation | G::AttendanceOrderRevoked => Some(Destination::HomeEducation),
            G::Died => Some(Destination::Died),
            G::Detained => Some(Destination::Custody),
            G::OtherSchool | G::MovedAway => match r.destination? {
                DestinationCode::Abroad => Some(Destination::Abroad),
                DestinationCode::Unknown => None,
                DestinationCode::School(l) if l.is_welsh() => Some(Destination::OutsideEngland),
                DestinationCode::School(l) if ctx.england.is_independent(l) => Some(Destination::IndependentSchool),
                DestinationCode::School(_) => Some(Destination::AnotherSchool),
            },
            _ => None,
        },
    }
}

fn bit(d: Destination) -> u16 {
    1 << Destination::ALL.iter().position(|&x| x == d).unwrap_or(0)
}

/// Works out what the files make knowable for each child of the leaver
/// cohort: on roll if on the second census under any UPN; else the
/// destination a current row gives (stale rows say nothing), which by
/// construction is the child's fate or nothing, so the knowable destination
/// is the fate or unknown.
pub(crate) fn knowable(ctx: &Ctx, children: &mut [Child], rows: &[SourceRow]) {
    let mut gives = vec![0u16; children.len()];
    let mut gives_upn = vec![0u16; children.len()];
    for r in rows.iter().filter(|r| !r.stale) {
        if let Some(d) = row_gives(ctx, r) {
            gives[r.child as usize] |= bit(d);
            if r.with_upn && !r.upn_mistyped {
                gives_upn[r.child as usize] |= bit(d);
            }
        }
    }
    for (i, c) in children.iter_mut().enumerate() {
        c.knowable = if !c.in_cohort || c.a.is_none() {
            Knowable::NotInCohort
        } else if c.b.is_some() {
            Knowable::OnRoll
        } else {
            let fate = match c.fate {
                Fate::Left(d) => d,
                _ => Destination::Unknown,
            };
            c.evidence = gives[i] & bit(fate) != 0;
            c.upn_evidence = gives_upn[i] & bit(fate) != 0;
            let d = if c.evidence {
                fate
            } else {
                Destination::ALL.into_iter().find(|&d| gives[i] & bit(d) != 0).unwrap_or(Destination::Unknown)
            };
            Knowable::Destination(d)
        };
    }
}
