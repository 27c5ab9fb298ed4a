"""Pairwise precision, recall, F1 (and B-cubed) of a clusters file against
the truth column of the input, the same code for every tool.

    python evaluate.py INPUT.csv CLUSTERS.csv  -> prints JSON
"""
import csv
import json
import sys
from collections import Counter


def pairs(n):
    return n * (n - 1) // 2


def main(input_path, clusters_path):
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
    print(json.dumps({"records": n, "precision": p, "recall": r, "f1": f1, "tp": tp, "predicted_pairs": pp,
                      "true_pairs": tt, "bcubed_precision": bp, "bcubed_recall": br,
                      "bcubed_f1": 2 * bp * br / (bp + br) if bp + br else 0.0}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
