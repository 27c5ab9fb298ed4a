//! Stable child ids across runs.
//!
//! A linkage run produces clusters; earlier runs gave some of their records
//! child ids. Each cluster keeps the id most of its records already had, so a
//! re-run on the same data gives the same ids and a run on new data keeps
//! every existing child's id. Where a cluster holds records of several
//! earlier children, they are merged into the id most of them had; where an
//! earlier child's records fall into several clusters, it is split and the
//! largest part keeps the id. Every merge, split and new id is an event.

use std::collections::BTreeMap;

use cnis_core::ChildId;

/// What happened to an id in a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdEvent {
    /// A child seen for the first time.
    New {
        /// The id minted.
        child: ChildId,
        /// Records in the cluster.
        records: usize,
    },
    /// Several earlier children found to be one.
    Merged {
        /// The id kept.
        kept: ChildId,
        /// The ids folded into it.
        absorbed: Vec<ChildId>,
    },
    /// An earlier child found to be more than one.
    Split {
        /// The id the largest part kept.
        from: ChildId,
        /// The id given to another part.
        to: ChildId,
        /// Records that part holds.
        records: usize,
    },
}

/// Gives each cluster an id. `cluster[i]` is record i's cluster,
/// `previous[i]` its id from an earlier run; `mint` draws a new id, which
/// must not be any previous id. Returns each record's id and the events.
pub fn assign_ids(
    cluster: &[u32],
    previous: &[Option<ChildId>],
    mut mint: impl FnMut() -> ChildId,
) -> (Vec<ChildId>, Vec<IdEvent>) {
    // Per cluster: records, and how many of them held each earlier id.
    let mut members: BTreeMap<u32, usize> = BTreeMap::new();
    let mut claims: BTreeMap<u32, BTreeMap<ChildId, usize>> = BTreeMap::new();
    for (i, &c) in cluster.iter().enumerate() {
        *members.entry(c).or_default() += 1;
        if let Some(id) = previous.get(i).copied().flatten() {
            *claims.entry(c).or_default().entry(id).or_default() += 1;
        }
    }
    // Strongest claims first: an id goes to the cluster holding most of its
    // records (ties to the lower cluster number, so runs agree).
    let mut ranked: Vec<(usize, u32, ChildId)> =
        claims.iter().flat_map(|(&c, ids)| ids.iter().map(move |(&id, &n)| (n, c, id))).collect();
    ranked.sort_by(|x, y| y.0.cmp(&x.0).then(x.1.cmp(&y.1)).then(x.2.cmp(&y.2)));
    let mut given: BTreeMap<u32, ChildId> = BTreeMap::new();
    let mut owner: BTreeMap<ChildId, u32> = BTreeMap::new();
    for &(_, c, id) in &ranked {
        if given.contains_key(&c) || owner.contains_key(&id) {
            continue;
        }
        given.insert(c, id);
        owner.insert(id, c);
    }
    let mut events = Vec::new();
    for (&c, &size) in &members {
        if let std::collections::btree_map::Entry::Vacant(slot) = given.entry(c) {
            let id = *slot.insert(mint());
            if !claims.contains_key(&c) {
                events.push(IdEvent::New { child: id, records: size });
            }
        }
    }
    // Every earlier id a cluster held but did not keep: if another cluster
    // kept it, this cluster split off from that child; if nobody kept it,
    // it was merged into this one.
    for (&c, h) in &claims {
        let mine = given[&c];
        let mut absorbed = Vec::new();
        for (&x, &n) in h {
            match owner.get(&x) {
                Some(&o) if o == c => {}
                Some(_) => events.push(IdEvent::Split { from: x, to: mine, records: n }),
                None => absorbed.push(x),
            }
        }
        if !absorbed.is_empty() {
            events.push(IdEvent::Merged { kept: mine, absorbed });
        }
    }
    let ids = cluster.iter().map(|c| given[c]).collect();
    (ids, events)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: u64) -> impl FnMut() -> ChildId {
        let mut next = n;
        move || {
            next += 1;
            ChildId::from_payload(next)
        }
    }

    fn id(n: u64) -> Option<ChildId> {
        Some(ChildId::from_payload(n))
    }

    #[test]
    fn same_clusters_keep_their_ids() {
        let cluster = [0, 0, 2, 3, 3];
        let (first, events) = assign_ids(&cluster, &[None; 5], ids(100));
        assert_eq!(events.iter().filter(|e| matches!(e, IdEvent::New { .. })).count(), 3);
        let previous: Vec<Option<ChildId>> = first.iter().copied().map(Some).collect();
        let (again, events) = assign_ids(&cluster, &previous, ids(200));
        assert_eq!(first, again);
        assert!(events.is_empty(), "{events:?}");
    }

    #[test]
    fn new_records_join_existing_children_or_get_new_ids() {
        // Records 0-2 from before; 3 joins child 1; 4 is new.
        let (got, events) = assign_ids(&[0, 0, 2, 0, 4], &[id(1), id(1), id(2), None, None], ids(100));
        assert_eq!(got[3], ChildId::from_payload(1));
        assert_eq!(got[2], ChildId::from_payload(2));
        assert_eq!(events, vec![IdEvent::New { child: ChildId::from_payload(101), records: 1 }]);
    }

    #[test]
    fn merges_and_splits_are_events() {
        // Children 1 and 2 are now one cluster; child 3 is now two.
        let previous = [id(1), id(1), id(2), id(3), id(3), id(3)];
        let (got, events) = assign_ids(&[0, 0, 0, 3, 3, 5], &previous, ids(100));
        assert_eq!(got[0], ChildId::from_payload(1));
        assert_eq!(got[3], ChildId::from_payload(3));
        assert_eq!(got[5], ChildId::from_payload(101));
        assert!(
            events.contains(&IdEvent::Merged {
                kept: ChildId::from_payload(1),
                absorbed: vec![ChildId::from_payload(2)]
            })
        );
        assert!(events.contains(&IdEvent::Split {
            from: ChildId::from_payload(3),
            to: ChildId::from_payload(101),
            records: 1
        }));
    }
}
