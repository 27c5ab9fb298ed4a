//! A waterfall chart of one pair's match weight, as SVG: the starting
//! weight (the share of matches among the pairs of the blocking rule that
//! finds the pair), then each field's contribution, then the total, with the
//! match probability.

use std::fmt::Write;

use crate::model::{Explanation, probability};

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// Renders the chart. Field labels and levels only: no record values.
pub fn waterfall_svg(e: &Explanation) -> String {
    let start = match e.rule {
        Some(r) => format!("prior: pairs with {}", r.name()),
        None => "prior: random pairs".to_string(),
    };
    let mut steps: Vec<(String, f64)> = vec![(start, e.start_weight)];
    steps.extend(e.parts.iter().map(|c| {
        let fixed = if c.fixed { " (fixed by the rule)" } else { "" };
        (format!("{}: {}{fixed}", c.field.name(), c.label), c.weight)
    }));
    let total: f64 = steps.iter().map(|s| s.1).sum();
    let mut running = 0.0f64;
    let mut lo = 0.0f64;
    let mut hi = 0.0f64;
    for (_, w) in &steps {
        running += w;
        lo = lo.min(running);
        hi = hi.max(running);
    }
    lo = lo.min(total) - 1.0;
    hi = hi.max(total) + 1.0;
    let (width, left, right, row) = (1100.0, 530.0, 1060.0, 26.0);
    let x = |w: f64| left + (w - lo) / (hi - lo) * (right - left);
    let height = row * (steps.len() as f64 + 3.0) + 20.0;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<text x="10" y="18" font-weight="bold">Match weight, field by field (log2 odds)</text>"#);
    let zero = x(0.0);
    let _ = writeln!(
        s,
        r##"<line x1="{zero:.1}" y1="26" x2="{zero:.1}" y2="{:.1}" stroke="#888" stroke-dasharray="3,3"/>"##,
        height - 10.0
    );
    let mut running = 0.0;
    for (i, (label, w)) in steps.iter().enumerate() {
        let y = 30.0 + row * i as f64;
        let (a, b) = (x(running), x(running + w));
        let colour = if *w >= 0.0 { "#2b7a3d" } else { "#b3261e" };
        let _ = writeln!(s, r#"<text x="10" y="{:.1}">{}</text>"#, y + 15.0, escape(label));
        let _ = writeln!(
            s,
            r#"<rect x="{:.1}" y="{y:.1}" width="{:.1}" height="{:.1}" fill="{colour}"/>"#,
            a.min(b),
            (b - a).abs().max(1.0),
            row - 6.0
        );
        let _ = writeln!(s, r#"<text x="{:.1}" y="{:.1}">{w:+.2}</text>"#, a.max(b) + 4.0, y + 15.0);
        running += w;
    }
    let y = 30.0 + row * steps.len() as f64;
    let _ = writeln!(
        s,
        r##"<rect x="{:.1}" y="{y:.1}" width="{:.1}" height="{:.1}" fill="#1f4e79"/>"##,
        zero.min(x(total)),
        (x(total) - zero).abs().max(1.0),
        row - 6.0
    );
    let _ = writeln!(
        s,
        r#"<text x="10" y="{:.1}" font-weight="bold">total {total:+.2}: match probability {:.4}</text>"#,
        y + 15.0 + row,
        probability(total)
    );
    s.push_str("</svg>\n");
    s
}
