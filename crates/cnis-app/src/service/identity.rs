//! Identity in the service: two children found to be one are merged, a
//! merge is undone exactly, "not the same child" is kept, and a reviewer's
//! queue shows the pairs on a council's register that need a person.
//!
//! A merge rewrites no row (see `cnis_store::identity`): the absorbed
//! child's entry is marked merged as a new version, and reads of either
//! child gather the group. Undoing gives the entry back its earlier status
//! as another version and records that the two are not the same child, so
//! the queue does not offer the pair again. Whatever was recorded while
//! they were one (an edit, an enquiry, a notice) was written for one of the
//! children's own rows and stays with that child.

use std::collections::HashMap;

use cnis_core::ChildId;
use cnis_core::register::EntryStatus;
use cnis_store::identity::{self as idt, NewDecision, NewMerge};
pub use cnis_store::identity::{IdentityDecision, Merge};
use cnis_store::register::{self as reg, Change, Entry, EntryUpdate, now_ms};
use serde::{Deserialize, Serialize};

use super::entries::{parse_child, reason_text};
use super::search::{Agreement, explain_pair};
use super::{Actor, Permission, Result, Service, ServiceError, require, scope};

/// Two children to merge.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct MergeChildren {
    /// The child kept: its entry stays the live one.
    pub kept: String,
    /// The child absorbed: its entry is marked merged.
    pub absorbed: String,
    /// Why they are one child.
    pub reason: String,
}

/// Why a merge is undone.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UndoMerge {
    /// Why.
    pub reason: String,
}

/// A reviewer's decision that two children are not the same child.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NotSameChild {
    /// One child.
    pub child_a: String,
    /// The other.
    pub child_b: String,
    /// Why.
    pub reason: String,
}

/// One side of a pair in the queue.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PairSide {
    /// cnis's child id.
    pub child_id: String,
    /// The entry.
    pub entry_id: i64,
    /// Given name.
    pub given_name: String,
    /// Family name.
    pub family_name: String,
    /// Date of birth.
    pub dob: String,
    /// Postcode.
    pub postcode: Option<String>,
    /// UPN.
    pub upn: Option<String>,
    /// Status.
    pub status: EntryStatus,
}

impl PairSide {
    fn of(e: &Entry) -> PairSide {
        PairSide {
            child_id: e.child_id.clone(),
            entry_id: e.id,
            given_name: e.content.given_name.clone(),
            family_name: e.content.family_name.clone(),
            dob: e.content.dob.clone(),
            postcode: e.content.postcode.clone(),
            upn: e.content.upn.clone(),
            status: e.status,
        }
    }
}

/// A pair that needs a person: both entries, the match weight, the
/// probability and the waterfall (each field's weight, for or against).
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReviewPair {
    /// One entry.
    pub a: PairSide,
    /// The other.
    pub b: PairSide,
    /// The match weight (log2 of the odds).
    pub weight: f64,
    /// The match probability.
    pub probability: f64,
    /// Each field compared, in order, with its weight.
    pub parts: Vec<Agreement>,
}

/// The candidate pairs looked at for the queue, at most.
const QUEUE_CANDIDATES: i64 = 20_000;

impl Service {
    /// Merges two children on the actor's council's register into one:
    /// `kept` stays, `absorbed`'s entry is marked merged. Refused when
    /// either has no live entry on the register, when they are one group
    /// already, when a person has decided they are not the same child,
    /// or while either is being handed over.
    pub fn merge_children(&self, actor: &Actor, m: MergeChildren) -> Result<Merge> {
        require(actor, Permission::ReviewIdentity)?;
        let council = scope(actor)?.to_string();
        let kept = parse_child(&m.kept)?;
        let absorbed = parse_child(&m.absorbed)?;
        let reason = reason_text(&m.reason)?;
        if kept == absorbed {
            return Err(ServiceError::invalid("absorbed", "Choose two different children"));
        }
        let at = now_ms();
        self.write_audited(|tx| {
            // Nothing is said about a child that is not on the council's
            // register, so that a merge cannot probe another council's.
            for c in [&kept, &absorbed] {
                if !reg::entries_for_child(tx, c)?.iter().any(|e| e.council == council) {
                    return Err(cnis_store::Error::NotFound("child on your council's register"));
                }
            }
            for c in [&kept, &absorbed] {
                if idt::absorbed_by(tx, &council, c)?.is_some() {
                    return Err(cnis_store::Error::Refused(
                        "One of these children is already merged into another: merge with that child instead.",
                    ));
                }
                if !cnis_store::cases::pending_handovers(tx, c)?.is_empty() {
                    return Err(cnis_store::Error::Refused(
                        "One of these children is being handed over to another council: merge after the handover is acknowledged.",
                    ));
                }
            }
            let ours = idt::members(tx, &council, &kept)?;
            let theirs = idt::members(tx, &council, &absorbed)?;
            if ours.iter().any(|c| theirs.contains(c)) {
                return Err(cnis_store::Error::Refused("These children are already merged."));
            }
            // "Not the same child" holds between the groups, not only the pair.
            for a in &ours {
                for b in &theirs {
                    if idt::decision(tx, a, b)?.is_some_and(|d| !d.same) {
                        return Err(cnis_store::Error::Refused(
                            "A person has decided these are not the same child, so they cannot be merged.",
                        ));
                    }
                }
            }
            let live = |tx: &mut cnis_store::db::Tx<'_>, c: &str| -> cnis_store::Result<Option<Entry>> {
                Ok(reg::entries_for_child(tx, c)?.into_iter().find(|e| e.council == council && e.status.is_live()))
            };
            let Some(_kept_entry) = live(tx, &kept)? else {
                return Err(cnis_store::Error::NotFound("register entry on your council's register for the child kept"));
            };
            let Some(gone) = live(tx, &absorbed)? else {
                return Err(cnis_store::Error::NotFound(
                    "register entry on your council's register for the child absorbed",
                ));
            };
            let change = Change { by: actor.user_id, reason: &reason, at };
            let update = EntryUpdate {
                status: EntryStatus::Merged,
                content: gone.content.clone(),
                left_on: gone.left_on,
                left_reason: gone.left_reason,
                retain_until: gone.retain_until,
            };
            let merged_action = format!("merged into {kept}");
            reg::update_entry(tx, gone.id, gone.version, &update, &merged_action, change)?;
            let merge = idt::insert_merge(
                tx,
                NewMerge {
                    council: &council,
                    kept: &kept,
                    absorbed: &absorbed,
                    absorbed_entry: Some(gone.id),
                    entry_status: Some(gone.status.code()),
                },
                actor.user_id,
                at,
                &reason,
            )?;
            idt::insert_decision(
                tx,
                NewDecision { council: &council, a: &kept, b: &absorbed, same: true },
                actor.user_id,
                at,
                &reason,
            )?;
            let event = self.event(
                actor,
                "child.merge",
                "ok",
                vec![kept.clone(), absorbed.clone()],
                serde_json::json!({ "merge": merge.id }),
            );
            Ok((merge, event))
        })
    }

    /// Undoes a merge: the absorbed child's entry gets back the status it
    /// had, each child has again what was written for it, and the pair is
    /// recorded as not the same child.
    pub fn undo_merge(&self, actor: &Actor, id: i64, undo: UndoMerge) -> Result<Merge> {
        require(actor, Permission::ReviewIdentity)?;
        let council = scope(actor)?.to_string();
        let reason = reason_text(&undo.reason)?;
        let at = now_ms();
        self.write_audited(|tx| {
            let m = idt::merge(tx, id)?
                .filter(|m| m.council == council)
                .ok_or(cnis_store::Error::NotFound("merge on your council's register"))?;
            if m.undone_at.is_some() {
                return Err(cnis_store::Error::Refused("This merge has already been undone."));
            }
            let change = Change { by: actor.user_id, reason: &reason, at };
            if let Some(entry_id) = m.absorbed_entry
                && let Some(e) = reg::entry(tx, entry_id)?
                && e.status == EntryStatus::Merged
            {
                let status = m
                    .entry_status
                    .as_deref()
                    .and_then(EntryStatus::parse)
                    .ok_or(cnis_store::Error::Corrupt { table: "child_merges", what: "entry status" })?;
                let update = EntryUpdate {
                    status,
                    content: e.content.clone(),
                    left_on: e.left_on,
                    left_reason: e.left_reason,
                    retain_until: e.retain_until,
                };
                let action = format!("merge into {} undone", m.kept);
                reg::update_entry(tx, e.id, e.version, &update, &action, change)?;
            }
            idt::insert_unmerge(tx, m.id, actor.user_id, at, &reason)?;
            idt::insert_decision(
                tx,
                NewDecision { council: &council, a: &m.kept, b: &m.absorbed, same: false },
                actor.user_id,
                at,
                &reason,
            )?;
            let m = idt::merge(tx, id)?.ok_or(cnis_store::Error::NotFound("merge"))?;
            let event = self.event(
                actor,
                "child.unmerge",
                "ok",
                vec![m.kept.clone(), m.absorbed.clone()],
                serde_json::json!({ "merge": m.id }),
            );
            Ok((m, event))
        })
    }

    /// Records that two children on the actor's council's register are not
    /// the same child: the queue stops offering the pair, a merge of them
    /// is refused, and the linkage engine is given the decision.
    pub fn not_same_child(&self, actor: &Actor, d: NotSameChild) -> Result<IdentityDecision> {
        require(actor, Permission::ReviewIdentity)?;
        let council = scope(actor)?.to_string();
        let a = parse_child(&d.child_a)?;
        let b = parse_child(&d.child_b)?;
        let reason = reason_text(&d.reason)?;
        if a == b {
            return Err(ServiceError::invalid("child_b", "Choose two different children"));
        }
        let at = now_ms();
        self.write_audited(|tx| {
            for c in [&a, &b] {
                if !reg::entries_for_child(tx, c)?.iter().any(|e| e.council == council) {
                    return Err(cnis_store::Error::NotFound("child on your council's register"));
                }
            }
            if idt::root(tx, &council, &a)? == idt::root(tx, &council, &b)? {
                return Err(cnis_store::Error::Refused(
                    "These children are merged: undo the merge to record that they are not the same child.",
                ));
            }
            idt::insert_decision(
                tx,
                NewDecision { council: &council, a: &a, b: &b, same: false },
                actor.user_id,
                at,
                &reason,
            )?;
            let d = idt::decision(tx, &a, &b)?.ok_or(cnis_store::Error::NotFound("decision"))?;
            let event = self.event(
                actor,
                "identity.not_same",
                "ok",
                vec![a.clone(), b.clone()],
                serde_json::json!({ "decision": d.id }),
            );
            Ok((d, event))
        })
    }

    /// Every merge the child's group was part of, undone ones included,
    /// for the child's page. Audited with the child's read.
    pub(crate) fn merges_for(
        &self,
        tx: &mut cnis_store::db::Tx<'_>,
        council: &str,
        children: &[String],
    ) -> cnis_store::Result<Vec<Merge>> {
        let mut out: Vec<Merge> = Vec::new();
        for c in children {
            for m in idt::merges_of(tx, council, c)? {
                if !out.iter().any(|o| o.id == m.id) {
                    out.push(m);
                }
            }
        }
        out.sort_by_key(|m| m.id);
        Ok(out)
    }

    /// The council's decisions on pairs, oldest first (a team manager's or
    /// caseworker's view, and what `cnis link` is given).
    pub fn identity_decisions(&self, actor: &Actor) -> Result<Vec<IdentityDecision>> {
        require(actor, Permission::ReviewIdentity)?;
        let council = scope(actor)?.to_string();
        let out = self.db.read(|tx| idt::decisions(tx, Some(&council)))?;
        self.audit.record(self.event(actor, "identity.decisions", "ok", vec![], serde_json::json!({})))?;
        Ok(out)
    }

    /// Every council's decisions, for the linkage engine run by the
    /// operator (`cnis link`): child ids and the decision, no names.
    pub fn all_identity_decisions(&self) -> Result<Vec<IdentityDecision>> {
        Ok(self.db.read(|tx| idt::decisions(tx, None))?)
    }

    /// Pairs of children a person decided are not the same child (the
    /// standing decision on each pair), across every council: what the
    /// linkage engine keeps apart (`cnis link predict --register`).
    pub fn not_same_pairs(&self) -> Result<Vec<(ChildId, ChildId)>> {
        let all = self.all_identity_decisions()?;
        let mut standing: HashMap<(String, String), bool> = HashMap::new();
        for d in all {
            standing.insert((d.child_a, d.child_b), d.same);
        }
        let mut out: Vec<(ChildId, ChildId)> = standing
            .into_iter()
            .filter(|(_, same)| !same)
            .filter_map(|((a, b), _)| Some((ChildId::parse(&a).ok()?, ChildId::parse(&b).ok()?)))
            .collect();
        out.sort_unstable();
        Ok(out)
    }

    /// The reviewer's queue: pairs of children on the council's register
    /// that share a date of birth and whose match probability is at least
    /// `review_floor`, most likely first, leaving out pairs a person has
    /// decided and pairs already merged. Audited with the children shown.
    pub fn identity_queue(&self, actor: &Actor, limit: usize) -> Result<Vec<ReviewPair>> {
        require(actor, Permission::ReviewIdentity)?;
        let council = scope(actor)?.to_string();
        let floor = self.config.review_floor;
        let mut out = self.db.read(|tx| {
            let mut out = Vec::new();
            for (a, b) in idt::same_birthday_pairs(tx, &council, QUEUE_CANDIDATES)? {
                let (Some(a), Some(b)) = (reg::entry(tx, a)?, reg::entry(tx, b)?) else { continue };
                let (weight, probability, parts) = explain_pair(&a, &b);
                if probability < floor || idt::decision(tx, &a.child_id, &b.child_id)?.is_some() {
                    continue;
                }
                out.push(ReviewPair {
                    a: PairSide::of(&a),
                    b: PairSide::of(&b),
                    weight: (weight * 100.0).round() / 100.0,
                    probability,
                    parts,
                });
            }
            Ok(out)
        })?;
        out.sort_by(|x, y| y.probability.total_cmp(&x.probability).then(x.a.entry_id.cmp(&y.a.entry_id)));
        out.truncate(limit.clamp(1, 200));
        let shown: Vec<String> = out.iter().flat_map(|p| [p.a.child_id.clone(), p.b.child_id.clone()]).collect();
        self.audit.record(self.event(actor, "identity.queue", "ok", shown, serde_json::json!({})))?;
        Ok(out)
    }
}

/// The record pairs linkage must not put into one child, given the pairs
/// of children people decided are not the same and each record's child id
/// from earlier linkage runs: every record of one child against every
/// record of the other (indices into the records, lower first). Children
/// the records do not carry (entered by hand in the service, never
/// linked) give nothing.
pub fn record_exclusions(
    not_same: &[(ChildId, ChildId)],
    child_of: impl IntoIterator<Item = (usize, ChildId)>,
) -> Vec<(u32, u32)> {
    let mut records: HashMap<ChildId, Vec<usize>> = HashMap::new();
    for (i, c) in child_of {
        records.entry(c).or_default().push(i);
    }
    let mut out = Vec::new();
    for (a, b) in not_same {
        let (Some(ra), Some(rb)) = (records.get(a), records.get(b)) else { continue };
        for &x in ra {
            for &y in rb {
                let (lo, hi) = if x < y { (x, y) } else { (y, x) };
                if let (Ok(lo), Ok(hi)) = (u32::try_from(lo), u32::try_from(hi)) {
                    out.push((lo, hi));
                }
            }
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_record_of_one_child_is_kept_from_every_record_of_the_other() {
        let id = |n: u64| ChildId::from_payload(n);
        let not_same = [(id(1), id(2)), (id(3), id(9))];
        let child_of = [(0, id(1)), (4, id(2)), (2, id(1)), (1, id(2)), (3, id(3))];
        assert_eq!(record_exclusions(&not_same, child_of), vec![(0, 1), (0, 4), (1, 2), (2, 4)]);
        assert!(record_exclusions(&[], child_of).is_empty());
    }
}
