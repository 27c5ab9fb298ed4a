"""Driver for the linkage benchmark: makes the data sets, runs cnis and
Splink on each under GNU time, scores both with the same evaluator, and
prints one table with ratios. Results also go to bench/out/linkage/results.json.
"""
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "bench", "out", "linkage")
CNIS = os.path.join(ROOT, "target", "release", "cnis")
PY = sys.executable
HERE = os.path.dirname(os.path.abspath(__file__))
UK_RULES = "upn,dob_surname,dob_forename,names_district,dob_district"
FEBRL_RULES = "dob_surname,dob_forename,postcode_surname,postcode_forename,names"
U_PAIRS = 10_000_000


def timed(cmd, **kw):
    """Runs cmd; returns (seconds, peak MiB, stdout, stderr)."""
    with tempfile.NamedTemporaryFile("r") as t:
        p = subprocess.run(["/usr/bin/time", "-f", "%e %M", "-o", t.name] + cmd,
                           capture_output=True, text=True, **kw)
        if p.returncode != 0:
            sys.stderr.write(p.stdout + p.stderr)
            raise SystemExit(f"failed: {' '.join(cmd)}")
        secs, kib = t.read().split()
        return float(secs), int(kib) / 1024, p.stdout, p.stderr


def evaluate(input_csv, clusters):
    out = subprocess.run([PY, os.path.join(HERE, "evaluate.py"), input_csv, clusters],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def dataset(name):
    os.makedirs(OUT, exist_ok=True)
    if name == "febrl3":
        path = os.path.join(OUT, "febrl3.csv")
        subprocess.run([PY, os.path.join(HERE, "prepare_febrl.py"), path], check=True)
        return path, FEBRL_RULES, False
    pupils = {"100k": 48_000, "1m": 480_000}[name]
    folder = os.path.join(OUT, f"synth-{name}")
    subprocess.run([CNIS, "-q", "synth", "--pupils", str(pupils), "--seed", "7", "--linkage", "--out", folder],
                   check=True)
    return os.path.join(folder, "linkage.csv"), UK_RULES, True


def run_cnis(name, path, rules):
    work = os.path.join(OUT, name, "cnis")
    os.makedirs(work, exist_ok=True)
    model = os.path.join(work, "model.json")
    q = ["--quarantine-dir", work]
    # One command, as a user runs it: train (writing the model) and predict.
    secs, mib, _, err = timed([CNIS, "link", "predict", "--train", path, *q, "--model", model, "--rules", rules,
                               "--u-pairs", str(U_PAIRS), "--out", work])
    scored = int(err.split(" pairs scored")[0].split()[-1])
    return {"seconds": secs, "peak_mib": mib, "pairs_scored": scored,
            **evaluate(path, os.path.join(work, "clusters.csv"))}


def run_splink(name, path, rules, uk):
    work = os.path.join(OUT, name, "splink")
    os.makedirs(work, exist_ok=True)
    clusters = os.path.join(work, "clusters.csv")
    args = [path, clusters, "--rules", rules, "--u-pairs", str(U_PAIRS)] + (["--uk-postcodes"] if uk else [])
    secs, mib, _, _ = timed([PY, os.path.join(HERE, "splink_run.py"), *args])
    count = subprocess.run([PY, os.path.join(HERE, "splink_run.py"), *args, "--count-pairs"],
                           capture_output=True, text=True, check=True).stdout.split()[-1]
    return {"seconds": secs, "peak_mib": mib, "pairs_scored": int(count), **evaluate(path, clusters)}


def main(names):
    names = names or ["febrl3", "100k", "1m"]
    machine = f"{os.cpu_count()} cores; commit " + subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT).stdout.strip()
    results = {}
    for name in names:
        path, rules, uk = dataset(name)
        records = sum(1 for _ in open(path)) - 1
        results[name] = {"records": records, "cnis": run_cnis(name, path, rules),
                         "splink": run_splink(name, path, rules, uk)}
        print(f"done {name}", file=sys.stderr)
    with open(os.path.join(OUT, "results.json"), "w") as f:
        json.dump({"machine": machine, "results": results}, f, indent=2)
    print(f"machine: {machine}; Splink 5.0.0 (DuckDB); u from {U_PAIRS:,} random pairs in both")
    head = f"{'data set':<12}{'records':>9} {'tool':<7}{'wall s':>8}{'peak MiB':>10}{'pairs':>12}" \
           f"{'precision':>10}{'recall':>8}{'F1':>8}{'B3 F1':>8}"
    print(head)
    for name, r in results.items():
        for tool in ("cnis", "splink"):
            x = r[tool]
            print(f"{name:<12}{r['records']:>9} {tool:<7}{x['seconds']:>8.1f}{x['peak_mib']:>10.0f}"
                  f"{x['pairs_scored']:>12}{x['precision']:>10.4f}{x['recall']:>8.4f}{x['f1']:>8.4f}"
                  f"{x['bcubed_f1']:>8.4f}")
        c, s = r["cnis"], r["splink"]
        print(f"{'':<12}{'':>9} {'ratio':<7}{s['seconds'] / c['seconds']:>7.1f}x"
              f"{s['peak_mib'] / c['peak_mib']:>9.1f}x{'':>12}{'':>10}{'':>8}"
              f"{c['f1'] - s['f1']:>+10.6f}  (Splink/cnis time and memory; cnis-Splink F1)")


if __name__ == "__main__":
    main(sys.argv[1:])
