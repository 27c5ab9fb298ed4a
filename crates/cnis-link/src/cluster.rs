//! Clustering scored pairs into children.
//!
//! Pairs at or above the link threshold are joined strongest first. A join
//! is refused when it would put two records from the same source with
//! different UPNs into one child: a source such as a census lists a child
//! once, so such a cluster is a chain of near-misses, not one child. The
//! refused pair goes to clerical review instead.

use crate::model::ScoredPair;
use crate::prepare::Prepared;

/// Clusters and what was refused.
#[derive(Debug, Clone)]
pub struct Clustering {
    /// Cluster number per record (the smallest record index in the cluster).
    pub cluster: Vec<u32>,
    /// Pairs above the threshold whose join was refused.
    pub refused: Vec<ScoredPair>,
}

struct UnionFind {
    parent: Vec<u32>,
    /// Per root: (source, UPN id) of members that have a UPN.
    upns: Vec<Vec<(u16, u32)>>,
}

impl UnionFind {
    fn find(&mut self, mut x: u32) -> u32 {
        while self.parent[x as usize] != x {
            let next = self.parent[x as usize];
            self.parent[x as usize] = self.parent[next as usize];
            x = next;
        }
        x
    }
}

/// Clusters `pairs` (any order) at `threshold`.
pub fn cluster(p: &Prepared, pairs: &[ScoredPair], threshold: f64) -> Clustering {
    let mut uf = UnionFind {
        parent: (0..p.n as u32).collect(),
        upns: (0..p.n).map(|i| if p.upn[i] != 0 { vec![(p.source[i], p.upn[i])] } else { Vec::new() }).collect(),
    };
    let mut strong: Vec<ScoredPair> = pairs.iter().copied().filter(|x| x.probability() >= threshold).collect();
    // Strongest first; ties broken by record so the result is deterministic.
    strong.sort_unstable_by(|x, y| y.weight.total_cmp(&x.weight).then(x.a.cmp(&y.a)).then(x.b.cmp(&y.b)));
    let mut refused = Vec::new();
    for pair in strong {
        let (ra, rb) = (uf.find(pair.a), uf.find(pair.b));
        if ra == rb {
            continue;
        }
        let conflict =
            uf.upns[ra as usize].iter().any(|&(s, u)| uf.upns[rb as usize].iter().any(|&(t, v)| s == t && u != v));
        if conflict {
            refused.push(pair);
            continue;
        }
        let (keep, gone) = if ra < rb { (ra, rb) } else { (rb, ra) };
        uf.parent[gone as usize] = keep;
        let moved = std::mem::take(&mut uf.upns[gone as usize]);
        uf.upns[keep as usize].extend(moved);
    }
    let cluster = (0..p.n as u32).map(|i| uf.find(i)).collect();
    Clustering { cluster, refused }
}
