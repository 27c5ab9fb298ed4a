//! Clustering scored pairs into children.
//!
//! Pairs at or above the link threshold are joined strongest first. A join
//! is refused when it would put two records of one source that lists each
//! child once (a census; each file of a link-only job) into one child,
//! unless they carry the same UPN: such a cluster is a chain of
//! near-misses, not one child. The refused pair goes to clerical review
//! instead. Sources that may list a child twice (a register, a referral
//! list) have no such rule: which sources list each child once is the
//! caller's to say ([`crate::Prepared::mark_unique`]).

use crate::model::{ScoredPair, weight_of};
use crate::prepare::Prepared;

/// Clusters and what was refused.
#[derive(Debug, Clone)]
pub struct Clustering {
    /// Cluster number per record (the smallest record index in the cluster).
    pub cluster: Vec<u32>,
    /// Pairs above the threshold whose join was refused.
    pub refused: Vec<ScoredPair>,
}

/// Union-find whose clusters also keep their members as a circular list,
/// so a join can check the members of both sides without any allocation.
struct Clusters {
    parent: Vec<u32>,
    next: Vec<u32>,
}

impl Clusters {
    fn find(&mut self, mut x: u32) -> u32 {
        while self.parent[x as usize] != x {
            let up = self.parent[self.parent[x as usize] as usize];
            self.parent[x as usize] = up;
            x = up;
        }
        x
    }

    fn members(&self, start: u32) -> impl Iterator<Item = u32> + '_ {
        let mut cur = Some(start);
        std::iter::from_fn(move || {
            let x = cur?;
            let n = self.next[x as usize];
            cur = (n != start).then_some(n);
            Some(x)
        })
    }
}

/// Clusters `pairs` (any order) at `threshold`.
pub fn cluster(p: &Prepared, pairs: &[ScoredPair], threshold: f64) -> Clustering {
    cluster_with(p, pairs, threshold, &Decisions::default())
}

/// Reviewers' decisions on pairs of records (indices, lower first).
#[derive(Debug, Clone, Default)]
pub struct Decisions {
    /// "The same child": joined whatever their score (still never two
    /// records of a source that lists each child once).
    pub same: Vec<(u32, u32)>,
    /// "Not the same child": never in one cluster.
    pub different: rustc_hash::FxHashSet<(u32, u32)>,
}

/// Whether records `x` and `y` may not share a child: one source that lists
/// each child once, and not the same UPN.
fn apart(p: &Prepared, x: u32, y: u32) -> bool {
    let (x, y) = (x as usize, y as usize);
    p.same_unique_source(x, y) && (p.upn[x] == 0 || p.upn[x] != p.upn[y])
}

/// Clusters `pairs` at `threshold`, respecting reviewers' decisions.
pub fn cluster_with(p: &Prepared, pairs: &[ScoredPair], threshold: f64, decisions: &Decisions) -> Clustering {
    let n = p.n as u32;
    let mut c = Clusters { parent: (0..n).collect(), next: (0..n).collect() };
    let min_weight = weight_of(threshold);
    let mut strong: Vec<ScoredPair> = pairs
        .iter()
        .copied()
        .filter(|x| f64::from(x.weight) >= min_weight && !decisions.different.contains(&(x.a, x.b)))
        .collect();
    strong.extend(decisions.same.iter().map(|&(a, b)| ScoredPair { a, b, weight: f32::INFINITY }));
    // Strongest first; ties broken by record so the result is deterministic.
    strong.sort_unstable_by(|x, y| y.weight.total_cmp(&x.weight).then(x.a.cmp(&y.a)).then(x.b.cmp(&y.b)));
    let any_unique = p.unique.iter().any(|&u| u);
    let mut refused = Vec::new();
    for pair in strong {
        let (ra, rb) = (c.find(pair.a), c.find(pair.b));
        if ra == rb {
            continue;
        }
        let conflict = any_unique && c.members(ra).any(|x| c.members(rb).any(|y| apart(p, x, y)));
        let ruled_out = !decisions.different.is_empty()
            && c.members(ra)
                .any(|x| c.members(rb).any(|y| decisions.different.contains(&if x < y { (x, y) } else { (y, x) })));
        if conflict || ruled_out {
            if !ruled_out {
                refused.push(pair);
            }
            continue;
        }
        let (keep, gone) = if ra < rb { (ra, rb) } else { (rb, ra) };
        c.parent[gone as usize] = keep;
        // Splice the two circular member lists into one.
        c.next.swap(ra as usize, rb as usize);
    }
    let cluster = (0..n).map(|i| c.find(i)).collect();
    Clustering { cluster, refused }
}
