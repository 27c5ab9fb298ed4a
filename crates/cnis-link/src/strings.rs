//! The string measures on the hot path, for the ASCII names that make up
//! nearly all comparisons: Jaro-Winkler and "at most one or two edits" (optimal
//! string alignment, i.e. Damerau-Levenshtein without repeated edits of a
//! substring). They use no heap, and the edit check only walks the band of
//! the table that can stay within two edits. Anything longer than 64 bytes or
//! not ASCII goes to `strsim`, whose results these match (tested).

const MAX: usize = 64;

/// Jaro-Winkler similarity, as `strsim::jaro_winkler` computes it.
pub fn jaro_winkler(a: &str, b: &str) -> f64 {
    let (x, y) = (a.as_bytes(), b.as_bytes());
    if !a.is_ascii() || !b.is_ascii() || x.len() > MAX || y.len() > MAX {
        return strsim::jaro_winkler(a, b);
    }
    let jaro = jaro_ascii(x, y);
    if jaro <= 0.7 {
        return jaro;
    }
    let prefix = x.iter().zip(y).take(4).take_while(|(p, q)| p == q).count() as f64;
    jaro + 0.1 * prefix * (1.0 - jaro)
}

fn jaro_ascii(a: &[u8], b: &[u8]) -> f64 {
    if a.is_empty() && b.is_empty() {
        return 1.0;
    }
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    if a == b {
        return 1.0;
    }
    let window = (a.len().max(b.len()) / 2).saturating_sub(1);
    let mut a_hit = [false; MAX];
    let mut b_hit = [false; MAX];
    let mut matches = 0usize;
    for (i, &c) in a.iter().enumerate() {
        let lo = i.saturating_sub(window);
        let hi = (i + window + 1).min(b.len());
        for j in lo..hi {
            if !b_hit[j] && b[j] == c {
                a_hit[i] = true;
                b_hit[j] = true;
                matches += 1;
                break;
            }
        }
    }
    if matches == 0 {
        return 0.0;
    }
    let mut transpositions = 0usize;
    let mut k = 0;
    for (i, &c) in a.iter().enumerate() {
        if a_hit[i] {
            while !b_hit[k] {
                k += 1;
            }
            if c != b[k] {
                transpositions += 1;
            }
            k += 1;
        }
    }
    let m = matches as f64;
    (m / a.len() as f64 + m / b.len() as f64 + (m - (transpositions / 2) as f64) / m) / 3.0
}

/// Whether `a` becomes `b` in at most two insertions, deletions,
/// substitutions or swaps of neighbours (`strsim::osa_distance <= 2`).
pub fn within_two_edits(a: &str, b: &str) -> bool {
    let (x, y) = (a.as_bytes(), b.as_bytes());
    if !a.is_ascii() || !b.is_ascii() || x.len() > MAX || y.len() > MAX {
        return strsim::osa_distance(a, b) <= 2;
    }
    if x.len().abs_diff(y.len()) > 2 || letters_apart(x, y) > 4 {
        return false;
    }
    const K: usize = 2;
    const INF: u8 = 9;
    // Three rows of the table; cells outside the band stay INF.
    let mut rows = [[INF; MAX + 1]; 3];
    for (j, cell) in rows[0].iter_mut().enumerate().take(y.len().min(K) + 1) {
        *cell = j as u8;
    }
    for i in 1..=x.len() {
        let (cur, prev, prev2) = (i % 3, (i + 2) % 3, (i + 1) % 3);
        rows[cur] = [INF; MAX + 1];
        if i <= K {
            rows[cur][0] = i as u8;
        }
        let lo = i.saturating_sub(K).max(1);
        let hi = (i + K).min(y.len());
        let mut best = rows[cur][0];
        for j in lo..=hi {
            let cost = u8::from(x[i - 1] != y[j - 1]);
            let mut v = (rows[prev][j - 1] + cost).min(rows[prev][j] + 1).min(rows[cur][j - 1] + 1);
            if i > 1 && j > 1 && x[i - 1] == y[j - 2] && x[i - 2] == y[j - 1] {
                v = v.min(rows[prev2][j - 2] + 1);
            }
            rows[cur][j] = v.min(INF);
            best = best.min(rows[cur][j]);
        }
        if best as usize > K {
            return false;
        }
    }
    rows[x.len() % 3][y.len()] as usize <= K
}

/// How far apart the letter counts of two ASCII strings are (the sum over
/// bytes of the difference in counts). An insertion or deletion moves it by
/// one, a substitution by two, a swap by none, so two strings within `k`
/// edits are at most `2k` apart: a quick way to turn most pairs away.
fn letters_apart(x: &[u8], y: &[u8]) -> u32 {
    let mut counts = [0i8; 64];
    for &c in x {
        counts[usize::from(c & 63)] += 1;
    }
    for &c in y {
        counts[usize::from(c & 63)] -= 1;
    }
    counts.iter().map(|&c| u32::from(c.unsigned_abs())).sum()
}

/// Whether `a` becomes `b` in at most one insertion, deletion, substitution
/// or swap of neighbours (`strsim::osa_distance <= 1`), in one pass.
pub fn within_one_edit(a: &str, b: &str) -> bool {
    let (x, y) = (a.as_bytes(), b.as_bytes());
    if !a.is_ascii() || !b.is_ascii() {
        return strsim::osa_distance(a, b) <= 1;
    }
    let (x, y) = if x.len() <= y.len() { (x, y) } else { (y, x) };
    if y.len() - x.len() > 1 {
        return false;
    }
    let start = x.iter().zip(y).take_while(|(p, q)| p == q).count();
    if start == x.len() {
        return true;
    }
    if x.len() == y.len() {
        // One substitution, or one swap of neighbours.
        let (rest_x, rest_y) = (&x[start + 1..], &y[start + 1..]);
        rest_x == rest_y
            || (start + 1 < x.len()
                && x[start] == y[start + 1]
                && x[start + 1] == y[start]
                && x[start + 2..] == y[start + 2..])
    } else {
        // One insertion into the shorter.
        x[start..] == y[start + 1..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn agree_with_strsim(a in "[A-E ]{0,12}", b in "[A-E ]{0,12}") {
            prop_assert!((jaro_winkler(&a, &b) - strsim::jaro_winkler(&a, &b)).abs() < 1e-12, "{a:?} {b:?}");
            prop_assert_eq!(within_two_edits(&a, &b), strsim::osa_distance(&a, &b) <= 2, "{:?} {:?}", a, b);
            prop_assert_eq!(within_one_edit(&a, &b), strsim::osa_distance(&a, &b) <= 1, "{:?} {:?}", a, b);
        }
    }

    #[test]
    fn examples() {
        assert!(within_two_edits("SMITH", "SMYTH"));
        assert!(within_two_edits("JONES", "JNOES"));
        assert!(within_two_edits("KHAN", "KAHN"));
        assert!(!within_two_edits("SMITH", "JONES"));
        assert!(within_one_edit("H801200001001", "H801200010001"));
        assert!(within_one_edit("H80120000100", "H801200001001"));
        assert!(!within_one_edit("H801200001001", "H801200001012"));
        assert!((jaro_winkler("MARTHA", "MARHTA") - strsim::jaro_winkler("MARTHA", "MARHTA")).abs() < 1e-12);
    }
}
