//! Disclosure control for published counts, as DfE publishes them
//! (`statistics-and-disclosure.md`; its recommended rules are the
//! defaults): small counts suppressed as `c`, secondary suppression so that
//! no suppressed cell is the only one in a row or column of a table
//! published with its totals, rounding half away from zero, `low` for a
//! count that rounds to nothing but is not nothing, and `0` only for a true
//! zero. Rates are worked out from the unrounded counts by the caller and
//! only shown rounded.
//!
//! What this module guarantees, for one table with its margins: no row or
//! column holds exactly one suppressed cell, and no suppressed cell is
//! fixed by the rows' and columns' equations taken together (a cell that
//! is the only link between two groups of suppressed cells, a bridge, is
//! joined to a cycle by one more suppression). The property test checks
//! the second by Gaussian elimination. Bounds that the counts' being
//! non-negative adds (a linear program), and tables published together or
//! the previous run, are the statistics issue's next step.

use serde::{Deserialize, Serialize};

/// How a count is shown in a published table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shown {
    /// The count, rounded as the rules say.
    Count(u64),
    /// A true zero.
    Zero,
    /// Not zero, but rounds to zero (`low`).
    Low,
    /// Suppressed (`c`, confidential).
    Suppressed,
}

impl Shown {
    /// The text of the published cell.
    pub fn text(self) -> String {
        match self {
            Shown::Count(n) => n.to_string(),
            Shown::Zero => "0".into(),
            Shown::Low => "low".into(),
            Shown::Suppressed => "c".into(),
        }
    }
}

/// `n` to the nearest multiple of `base`, halves away from zero (not the
/// banker's rounding some tools use); `base` 0 or 1 leaves `n` as it is.
pub fn round_half_up(n: u64, base: u64) -> u64 {
    if base <= 1 {
        return n;
    }
    n.saturating_add(base / 2) / base * base
}

/// The rules for one table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Rules {
    /// Counts from 1 to this are suppressed (DfE's children in need
    /// releases suppress 1 to 5).
    pub suppress_up_to: u64,
    /// Shown counts are rounded to a multiple of this (1: not rounded; the
    /// elective home education release rounds councils' and regions'
    /// figures to 10 and England's to 100).
    pub round_to: u64,
}

impl Default for Rules {
    fn default() -> Rules {
        Rules { suppress_up_to: 5, round_to: 1 }
    }
}

impl Rules {
    /// Whether a count must be suppressed on its own (primary suppression).
    pub fn too_small(&self, n: u64) -> bool {
        n >= 1 && n <= self.suppress_up_to
    }

    /// How a count is shown, once whether it is suppressed is decided.
    pub fn show(&self, n: u64, suppressed: bool) -> Shown {
        if suppressed {
            Shown::Suppressed
        } else if n == 0 {
            Shown::Zero
        } else {
            match round_half_up(n, self.round_to) {
                0 => Shown::Low,
                r => Shown::Count(r),
            }
        }
    }
}

/// A table published with its margins: the cells, a total for each row
/// and column, and the grand total, each suppressed or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Protected {
    /// `grid[r][c]` for the cells, `grid[r][cols]` each row's total,
    /// `grid[rows][c]` each column's total, `grid[rows][cols]` the grand
    /// total.
    pub grid: Vec<Vec<u64>>,
    /// Whether each entry of `grid` is suppressed.
    pub suppressed: Vec<Vec<bool>>,
}

impl Protected {
    /// Suppressed entries, the totals' included.
    pub fn count_suppressed(&self) -> usize {
        self.suppressed.iter().flatten().filter(|s| **s).count()
    }
}

/// Suppresses a table with margins: every count from 1 to
/// `rules.suppress_up_to` (totals too), then, while a row or column holds
/// exactly one suppressed entry, the smallest other entry of that line
/// (a non-zero one first, as a zero's partner gives little away), so that
/// no suppressed entry is a total less the published entries of its line.
/// `cells` is rows of equal length; a ragged table is read as padded with
/// zeros.
pub fn protect(cells: &[Vec<u64>], rules: &Rules) -> Protected {
    let rows = cells.len();
    let cols = cells.iter().map(Vec::len).max().unwrap_or(0);
    let mut grid = vec![vec![0u64; cols + 1]; rows + 1];
    for (r, row) in cells.iter().enumerate() {
        for (c, &n) in row.iter().enumerate() {
            grid[r][c] = n;
            grid[r][cols] += n;
            grid[rows][c] += n;
            grid[rows][cols] += n;
        }
    }
    let mut suppressed: Vec<Vec<bool>> =
        grid.iter().map(|row| row.iter().map(|&n| rules.too_small(n)).collect()).collect();
    // Each line is an equation: its cells sum to its total. Lines are
    // listed as the positions they hold.
    let mut lines: Vec<Vec<(usize, usize)>> = Vec::new();
    for r in 0..=rows {
        lines.push((0..=cols).map(|c| (r, c)).collect());
    }
    for c in 0..=cols {
        lines.push((0..=rows).map(|r| (r, c)).collect());
    }
    let smallest = |cells: &mut dyn Iterator<Item = (usize, usize)>, grid: &[Vec<u64>]| {
        cells.min_by_key(|&(r, c)| (grid[r][c] == 0, grid[r][c], r, c))
    };
    loop {
        let mut changed = false;
        for line in &lines {
            if line.iter().filter(|&&(r, c)| suppressed[r][c]).count() != 1 {
                continue;
            }
            let mut open = line.iter().copied().filter(|&(r, c)| !suppressed[r][c]);
            if let Some((r, c)) = smallest(&mut open, &grid) {
                suppressed[r][c] = true;
                changed = true;
            }
        }
        if changed {
            continue;
        }
        // A suppressed cell that is the only link between two groups of
        // suppressed cells (a bridge in the graph of rows and columns the
        // suppressed cells join) is fixed by the lines together: join the
        // two groups by another cell, so it lies on a cycle.
        let Some((a, b)) = bridge(&suppressed, rows, cols) else { break };
        let mut across = (0..=rows)
            .flat_map(|r| (0..=cols).map(move |c| (r, c)))
            .filter(|&(r, c)| !suppressed[r][c] && ((a[r] && b[rows + 1 + c]) || (b[r] && a[rows + 1 + c])));
        match smallest(&mut across, &grid) {
            Some((r, c)) => suppressed[r][c] = true,
            None => break,
        }
    }
    Protected { grid, suppressed }
}

/// The first suppressed cell that is a bridge, as the two sides it
/// separates: for each node (rows `0..=rows`, then columns), whether it is
/// on the row's side (`a`) or the column's (`b`) once the cell is taken
/// away. `None` when no suppressed cell is a bridge.
fn bridge(suppressed: &[Vec<bool>], rows: usize, cols: usize) -> Option<(Vec<bool>, Vec<bool>)> {
    let nodes = rows + cols + 2;
    let reach = |from: usize, without: (usize, usize)| {
        let mut seen = vec![false; nodes];
        let mut stack = vec![from];
        seen[from] = true;
        while let Some(n) = stack.pop() {
            let next: Vec<usize> = if n <= rows {
                (0..=cols).filter(|&c| suppressed[n][c] && (n, c) != without).map(|c| rows + 1 + c).collect()
            } else {
                let c = n - rows - 1;
                (0..=rows).filter(|&r| suppressed[r][c] && (r, c) != without).collect()
            };
            for m in next {
                if !seen[m] {
                    seen[m] = true;
                    stack.push(m);
                }
            }
        }
        seen
    };
    for (r, row) in suppressed.iter().enumerate() {
        for (c, _) in row.iter().enumerate().filter(|(_, s)| **s) {
            let a = reach(r, (r, c));
            if !a[rows + 1 + c] {
                return Some((a, reach(rows + 1 + c, (r, c))));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn rounding_follows_the_published_test_vectors() {
        let r10 = Rules { suppress_up_to: 0, round_to: 10 };
        let r100 = Rules { suppress_up_to: 0, round_to: 100 };
        assert_eq!(r10.show(4, false), Shown::Low);
        assert_eq!(r10.show(5, false), Shown::Count(10));
        assert_eq!(r10.show(14, false), Shown::Count(10));
        assert_eq!(r10.show(15, false), Shown::Count(20));
        assert_eq!(r10.show(1234, false), Shown::Count(1230));
        assert_eq!(r100.show(1234, false), Shown::Count(1200));
        assert_eq!(r100.show(49, false), Shown::Low);
        assert_eq!(r100.show(50, false), Shown::Count(100), "halves away from zero, not to even");
        assert_eq!(r10.show(0, false), Shown::Zero);
        assert_eq!(Rules::default().show(7, false), Shown::Count(7), "not rounded by default");
        assert_eq!(Shown::Suppressed.text(), "c");
        assert_eq!(Shown::Low.text(), "low");
        assert_eq!(round_half_up(u64::MAX, 10) % 10, 0, "no overflow");
    }

    #[test]
    fn one_small_cell_takes_three_partners_and_the_totals_stay() {
        let p = protect(&[vec![3, 20], vec![30, 40]], &Rules::default());
        assert_eq!(p.grid[0][2], 23);
        assert_eq!(p.grid[2][2], 93);
        let s = &p.suppressed;
        assert!(s[0][0] && s[0][1] && s[1][0] && s[1][1], "{s:?}");
        assert!(!s[0][2] && !s[1][2] && !s[2][0] && !s[2][1] && !s[2][2], "totals published: {s:?}");
        // The published totals leave the small cell anywhere from 0 to 23.
        assert_eq!(p.count_suppressed(), 4);
    }

    #[test]
    fn a_small_total_is_suppressed_and_protected_too() {
        // Row 1 totals 4: its total and its cells go, and so does enough of
        // each column to hide them.
        let p = protect(&[vec![10, 12], vec![1, 3]], &Rules::default());
        assert!(p.suppressed[1][2], "the row total 4");
        assert!(p.suppressed[1][0] && p.suppressed[1][1]);
        for line in 0..3 {
            let col: usize = (0..3).filter(|&r| p.suppressed[r][line]).count();
            assert_ne!(col, 1, "column {line}: {:?}", p.suppressed);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

        /// No count from 1 to 5 is published, and no row or column holds
        /// exactly one suppressed entry (so none is a total less the rest).
        #[test]
        fn no_small_count_survives_and_no_line_has_a_lone_suppression(
            cells in prop::collection::vec(prop::collection::vec(0u64..40, 1..5), 1..5)
        ) {
            let rules = Rules::default();
            let p = protect(&cells, &rules);
            let rows = p.grid.len();
            let cols = p.grid[0].len();
            for r in 0..rows {
                for c in 0..cols {
                    if rules.too_small(p.grid[r][c]) {
                        prop_assert!(p.suppressed[r][c], "({r},{c}) = {} published", p.grid[r][c]);
                    }
                }
            }
            for r in 0..rows {
                prop_assert_ne!((0..cols).filter(|&c| p.suppressed[r][c]).count(), 1, "row {}", r);
            }
            for c in 0..cols {
                prop_assert_ne!((0..rows).filter(|&r| p.suppressed[r][c]).count(), 1, "column {}", c);
            }
            // Margins add up.
            for r in 0..rows - 1 {
                prop_assert_eq!(p.grid[r][..cols - 1].iter().sum::<u64>(), p.grid[r][cols - 1]);
            }
            // No suppressed entry is fixed by the lines together: solved as
            // a linear system, each is free.
            for (r, c) in determined(&p) {
                prop_assert!(false, "({}, {}) = {} can be worked out: {:?}", r, c, p.grid[r][c], p.suppressed);
            }
        }
    }

    /// The suppressed entries the published ones fix exactly, by Gaussian
    /// elimination on the rows' and columns' equations: an entry is fixed
    /// when its unit vector lies in the span of the equations (over the
    /// suppressed entries only; the published ones are constants).
    fn determined(p: &Protected) -> Vec<(usize, usize)> {
        let rows = p.grid.len() - 1;
        let cols = p.grid[0].len() - 1;
        let vars: Vec<(usize, usize)> =
            (0..=rows).flat_map(|r| (0..=cols).map(move |c| (r, c))).filter(|&(r, c)| p.suppressed[r][c]).collect();
        let mut eqs: Vec<Vec<f64>> = Vec::new();
        for r in 0..=rows {
            eqs.push(
                vars.iter()
                    .map(|&(vr, vc)| {
                        if vr != r {
                            0.0
                        } else if vc == cols {
                            -1.0
                        } else {
                            1.0
                        }
                    })
                    .collect(),
            );
        }
        for c in 0..=cols {
            eqs.push(
                vars.iter()
                    .map(|&(vr, vc)| {
                        if vc != c {
                            0.0
                        } else if vr == rows {
                            -1.0
                        } else {
                            1.0
                        }
                    })
                    .collect(),
            );
        }
        let rank = |m: &[Vec<f64>]| {
            let mut m = m.to_vec();
            let width = vars.len();
            let mut rank = 0;
            for col in 0..width {
                let Some(pivot) = (rank..m.len()).max_by(|&a, &b| m[a][col].abs().total_cmp(&m[b][col].abs())) else {
                    break;
                };
                if m[pivot][col].abs() < 1e-9 {
                    continue;
                }
                m.swap(rank, pivot);
                let pivot_row = m[rank].clone();
                for (i, row) in m.iter_mut().enumerate() {
                    if i != rank {
                        let f = row[col] / pivot_row[col];
                        for (x, p) in row[col..width].iter_mut().zip(&pivot_row[col..width]) {
                            *x -= f * p;
                        }
                    }
                }
                rank += 1;
            }
            rank
        };
        let base = rank(&eqs);
        vars.iter()
            .enumerate()
            .filter(|(i, _)| {
                let mut with = eqs.clone();
                with.push((0..vars.len()).map(|j| if j == *i { 1.0 } else { 0.0 }).collect());
                rank(&with) == base
            })
            .map(|(_, v)| *v)
            .collect()
    }
}
