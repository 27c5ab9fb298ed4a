"""Accuracy of a tool's output against the truth column of the input, the
same code for every tool, over every record of the input:

- cluster level: the pairs the clusters imply (two records in one cluster)
  against the true pairs, and B-cubed precision and recall per record;
- pair level (with a pairs file): the scored pairs at or above a match
  probability (0.9) against the true pairs.

    python evaluate.py INPUT.csv CLUSTERS.csv [PAIRS.csv]  -> prints JSON
"""
import csv
import json
import sys
from collections import Counter


def pairs(n):
    return n * (n - 1) // 2


def pair_level(truth, pairs_path, threshold=0.9):
    """Scored pairs at or above `threshold` against every true pair."""
    true = Counter(truth.values())
    tt = sum(pairs(n) for n in true.values())
    tp = pp = 0
    seen = set()
    with open(pairs_path, newline="") as f:
        for r in csv.DictReader(f):
            if float(r["match_probability"]) < threshold:
                continue
            a, b = (r["source_l"], r["record_id_l"]), (r["source_r"], r["record_id_r"])
            key = (min(a, b), max(a, b))
            if key in seen or a not in truth or b not in truth:
                continue
            seen.add(key)
            pp += 1
            tp += truth[a] == truth[b]
    p = tp / pp if pp else 1.0
    r = tp / tt if tt else 1.0
    return {"threshold": threshold, "precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0,
            "tp": tp, "predicted_pairs": pp, "true_pairs": tt}


def main(input_path, clusters_path, pairs_path=None):
    truth = {}
    with open(input_path, newline="") as f:
        for r in csv.DictReader(f):
            if r.get("truth"):
                truth[(r["source"], r["record_id"])] = r["truth"]
    cluster = {}
    with open(clusters_path, newline="") as f:
        for r in csv.DictReader(f):
            cluster[(r["source"], r["record_id"])] = r["cluster"]
    # A record the tool did not return is a cluster of its own.
    cells, pred, true = Counter(), Counter(), Counter()
    for key, t in truth.items():
        c = cluster.get(key, ("alone",) + key)
        cells[(c, t)] += 1
        pred[c] += 1
        true[t] += 1
    tp = sum(pairs(n) for n in cells.values())
    pp = sum(pairs(n) for n in pred.values())
    tt = sum(pairs(n) for n in true.values())
    p = tp / pp if pp else 1.0
    r = tp / tt if tt else 1.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    n = len(truth)
    bp = sum(k * k / pred[c] for (c, _), k in cells.items()) / n
    br = sum(k * k / true[t] for (_, t), k in cells.items()) / n
    out = {"records": n, "precision": p, "recall": r, "f1": f1, "tp": tp, "predicted_pairs": pp,
           "true_pairs": tt, "bcubed_precision": bp, "bcubed_recall": br,
           "bcubed_f1": 2 * bp * br / (bp + br) if bp + br else 0.0}
    if pairs_path:
        out["pairs"] = pair_level(truth, pairs_path)
    print(json.dumps(out))


if __name__ == "__main__":
    main(*sys.argv[1:4])
