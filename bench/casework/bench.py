#!/usr/bin/env python3
"""Casework at national scale: run by bench/casework/run.sh.

For each backend it makes a fresh register, adds for every council (153) a
caseworker and two school users with `cnis user add`, starts `cnis serve
-v`, signs everyone in, and fills the register through the API in
proportion to the published figures (../shared/domain/cme-and-ehe.md,
cnis-register.md section 7), split between councils by size:

  home education      111,700 deletion notices on the home-education ground
                      (each opens a home-education case and a draft entry)
  missing education    39,200: half deletion notices on the 20-day ground
                      (cases due in five school days), half schools'
                      absence reports from 30 to 110 days ago (cases due on
                      the 20th school day of the absence: most overdue)
  alternative provision 27,660 placements (school- and council-arranged,
                      January 2025), about ten to a provider

Every notice carries SEN and prior absence as a school would give them.
Then, with wrk on the same machine, each caseworker's dashboard (GET
/api/v1/dashboard), the council's overdue cases (GET
/api/v1/cases?overdue=true) and the deregistration scrutiny view (GET
/api/v1/scrutiny, a year of notices by school), each at the concurrencies
asked for. The audit is checked as in the register benchmark: it grows by
exactly the audited requests the server answered.

Environment (run.sh sets the defaults):
  CNIS_BIN  SCALE (1.0: national)  DURATION (20)  CONNS ("16")
  BACKENDS ("sqlite postgres")  PG_URL  PG_DB (cnis_bench_casework)
  WORKDIR  SEED_PROCS (3)  SEED_THREADS (6)  WRK_THREADS (2)  RESULTS
"""

import datetime
import http.client
import importlib.util
import json
import multiprocessing as mp
import os
import random
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
os.environ.setdefault("PG_DB", "cnis_bench_casework")
_spec = importlib.util.spec_from_file_location("regbench", os.path.join(ROOT, "bench", "register", "bench.py"))
rb = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(rb)

env, log = rb.env, rb.log
PASSWORD = rb.PASSWORD

# What the published figures give for England (see the docstring).
HOME_EDUCATION = 111_700
MISSING_EDUCATION = 39_200
AP_PLACEMENTS = 27_660
SCHOOLS_PER_COUNCIL = 2

# The routes whose answers are audited, for the audit check.
rb.AUDITED = {
    ("POST", "/api/v1/session"),
    ("POST", "/api/v1/notices"),
    ("POST", "/api/v1/absence-reports"),
    ("POST", "/api/v1/ap/providers"),
    ("POST", "/api/v1/ap/providers/{id}/placements"),
    ("GET", "/api/v1/entries"),
    ("GET", "/api/v1/cases"),
    ("GET", "/api/v1/scrutiny"),
}


def school_of(code, k):
    return f"{code}{4001 + k:04d}"


def add_accounts(b):
    t0 = time.monotonic()
    r = b.cli("user", "add", "--register", b.register, "--email", "auditor@bench.example",
              "--name", "Bench auditor", "--role", "auditor", "--password-stdin", stdin=PASSWORD + "\n")
    if r.returncode != 0:
        raise RuntimeError(f"cnis user add: {r.stderr}")
    codes = [row[0] for row in b.query("SELECT code FROM councils ORDER BY code")]
    emails = {}
    for code in codes:
        accounts = [(f"cw-{code}@bench.example", "caseworker", None)]
        accounts += [(f"school-{code}-{k}@bench.example", "school", school_of(code, k))
                     for k in range(SCHOOLS_PER_COUNCIL)]
        for email, role, school in accounts:
            args = ["user", "add", "--register", b.register, "--email", email, "--name", email.split("@")[0],
                    "--role", role, "--council", code, "--password-stdin"]
            if school:
                args += ["--school", school]
            r = b.cli(*args, stdin=PASSWORD + "\n")
            if r.returncode != 0:
                raise RuntimeError(f"cnis user add {email}: {r.stderr}")
            emails[email] = code
    return codes, emails, 1 + len(emails), time.monotonic() - t0


def sign_in(port, emails):
    """Every account signed in; batches of 20 from their own loopback
    address (the service allows 30 sign-ins a minute from one)."""
    sessions, errors = {}, []

    def one(i, email):
        src = (f"127.0.{1 + i // 5000}.{10 + (i // 20) % 240}", 0)
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=60, source_address=src)
        c.request("POST", "/api/v1/session", json.dumps({"email": email, "password": PASSWORD}),
                  {"Content-Type": "application/json"})
        r = c.getresponse()
        data = r.read()
        c.close()
        if r.status != 200:
            errors.append((email, r.status, data[:200]))
            return
        token = r.getheader("set-cookie").split(";")[0].split("=", 1)[1]
        sessions[email] = (token, json.loads(data)["csrf"])

    items = list(emails)
    for lo in range(0, len(items), 8):
        ts = [threading.Thread(target=one, args=(lo + j, e)) for j, e in enumerate(items[lo:lo + 8])]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
    if errors:
        raise RuntimeError(f"sign-ins failed: {errors[:3]}")
    return sessions


def split(total, weights, rng):
    """`total` split between councils by weight, each at least 1."""
    out = {c: max(1, int(total * w)) for c, w in weights.items()}
    codes = list(weights)
    while sum(out.values()) < total:
        out[rng.choice(codes)] += 1
    return out


def person(rng):
    female = rng.random() < 0.5
    given = rng.choice(rb.GIVEN_F if female else rb.GIVEN_M)
    family = rng.choice(rb.FAMILY)
    today = datetime.date.today()
    age = rng.randint(6, 15)
    dob = datetime.date(today.year - age, rng.randint(1, 12), rng.randint(1, 28))
    return given, family, dob.isoformat(), "F" if female else "M"


def notices_plan(codes, weights, scale, rng):
    """(method, path, email, body) for every notice and absence report."""
    today = datetime.date.today()
    he = split(round(HOME_EDUCATION * scale), weights, rng)
    me = split(round(MISSING_EDUCATION * scale), weights, rng)
    plan = []
    for code in codes:
        for kind, n in (("he", he[code]), ("me", me[code])):
            for i in range(n):
                given, family, dob, sex = person(rng)
                k = rng.randrange(SCHOOLS_PER_COUNCIL)
                email = f"school-{code}-{k}@bench.example"
                street = rng.choice(rb.STREETS)
                address = f"{rng.randint(1, 180)} {street}"
                absent = round(min(100.0, rng.lognormvariate(2.3, 0.8)), 1)
                sen = rng.choices(["N", "K", "E"], [0.75, 0.2, 0.05])[0]
                if kind == "me" and i % 2 == 1:
                    first = today - datetime.timedelta(days=rng.randint(30, 110))
                    body = {"given_name": given, "family_name": family, "dob": dob, "address": address,
                            "first_day_absent": first.isoformat(), "notes": "No contact since (benchmark)"}
                    plan.append(("POST", "/api/v1/absence-reports", email, body))
                    continue
                deleted = today - datetime.timedelta(days=rng.randint(0, 300))
                body = {
                    "deletion_date": deleted.isoformat(),
                    "ground": "9(1)(f)" if kind == "he" else "9(1)(i)",
                    "given_name": given, "family_name": family, "dob": dob, "sex": sex,
                    "address": address, "postcode": None,
                    "parents": [{"name": f"{rng.choice(rb.GIVEN_F)} {family}"}],
                    "sen": sen, "absence_percent": absent,
                }
                plan.append(("POST", "/api/v1/notices", email, body))
    rng.shuffle(plan)
    return plan


# Seeding runs in forked processes that inherit these.
_SEED = {}


def _seed_thread(lo, hi, out):
    port, plan, sessions = _SEED["port"], _SEED["plan"], _SEED["sessions"]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    for i in range(lo, hi):
        method, path, email, body = plan[i]
        token, csrf = sessions[email]
        h = {"Content-Type": "application/json", "Cookie": f"cnis_session={token}", "X-CSRF-Token": csrf}
        t0 = time.perf_counter()
        try:
            conn.request(method, path, json.dumps(body), h)
            r = conn.getresponse()
            data = r.read()
            status = r.status
        except (OSError, http.client.HTTPException):
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            status, data = 0, b""
        out.append((i, status, (time.perf_counter() - t0) * 1000, data if status >= 300 or "/ap/" in path else b""))
    conn.close()


def _seed_proc(args):
    lo, hi, nthreads = args
    outs, threads = [], []
    step = (hi - lo + nthreads - 1) // nthreads
    for k in range(nthreads):
        a, b = lo + k * step, min(hi, lo + (k + 1) * step)
        if a >= b:
            continue
        out = []
        outs.append(out)
        t = threading.Thread(target=_seed_thread, args=(a, b, out))
        t.start()
        threads.append(t)
    for t in threads:
        t.join()
    return [x for o in outs for x in o]


def send_all(port, plan, sessions, procs, threads):
    _SEED.update(port=port, plan=plan, sessions=sessions)
    n = len(plan)
    step = max(1, (n + procs - 1) // procs)
    ranges = [(i * step, min(n, (i + 1) * step), threads) for i in range(procs) if i * step < n]
    t0 = time.monotonic()
    with mp.get_context("fork").Pool(len(ranges)) as pool:
        parts = pool.map(_seed_proc, ranges)
    wall = time.monotonic() - t0
    res = sorted(x for p in parts for x in p)
    bad = [(plan[i][1], st, data[:200]) for (i, st, _, data) in res if not 200 <= st < 300]
    ms = [m for (_, st, m, _) in res if 200 <= st < 300]
    return res, wall, bad, ms


def child_ids(port, sessions, code):
    """Every child id on a council's register (GET /api/v1/entries)."""
    token, csrf = sessions[f"cw-{code}@bench.example"]
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    out, page = [], 1
    while True:
        c.request("GET", f"/api/v1/entries?page={page}&per_page=200", headers={"Cookie": f"cnis_session={token}"})
        r = c.getresponse()
        data = json.loads(r.read())
        if r.status != 200:
            raise RuntimeError(f"GET /api/v1/entries: {r.status} {data}")
        out += [e["child_id"] for e in data["items"]]
        if not data["items"] or len(out) >= data["total"]:
            break
        page += 1
    c.close()
    return out


def ap_plan(port, codes, weights, sessions, scale, rng):
    """Providers, then placements of children on each council's register."""
    placements = split(round(AP_PLACEMENTS * scale), weights, rng)
    providers = []
    for code in codes:
        for k in range(max(1, placements[code] // 10)):
            body = {"content": {"name": f"{rng.choice(rb.FAMILY)} Learning {k}", "kind": "organisation",
                                "addresses": [f"{rng.randint(1, 99)} {rng.choice(rb.STREETS)}"]},
                    "reason": "commissioned by a school (benchmark)"}
            providers.append(("POST", "/api/v1/ap/providers", f"cw-{code}@bench.example", body))
    return providers, placements


def placements_plan(codes, placements, provider_ids, children, rng):
    today = datetime.date.today()
    plan = []
    for code in codes:
        ids, kids = provider_ids.get(code, []), children.get(code, [])
        if not ids or not kids:
            continue
        for _ in range(placements[code]):
            start = today - datetime.timedelta(days=rng.randint(0, 200))
            school = rng.random() < 17_327 / AP_PLACEMENTS
            body = {"child_id": rng.choice(kids), "commissioner": "school" if school else "council",
                    "school": school_of(code, 0) if school else None, "start_on": start.isoformat(),
                    "planned_end_on": (start + datetime.timedelta(days=rng.randint(42, 270))).isoformat(),
                    "hours_per_week": float(rng.choice([6, 10, 12.5, 15, 20, 25])),
                    "reason": "placement (benchmark)"}
            plan.append(("POST", f"/api/v1/ap/providers/{rng.choice(ids)}/placements", f"cw-{code}@bench.example",
                         body))
    rng.shuffle(plan)
    return plan


def run_backend(kind, cfg):
    b = rb.Backend(kind, cfg["workdir"], cfg["cnis"])
    log(f"== {kind}: {b.register}")
    b.reset()
    codes, emails, accounts, secs = add_accounts(b)
    log(f"  {len(codes)} councils, {accounts} accounts in {secs:.1f} s")
    server = rb.Server(b)
    server.start()
    res = {"backend": kind, "describe": b.describe(), "seed": {}, "phases": []}
    try:
        sessions = sign_in(server.port, emails)
        rng = random.Random(20261201)
        weights = rb.council_weights(codes)
        plan = notices_plan(codes, weights, cfg["scale"], rng)
        log(f"  seeding {len(plan):,} notices and absence reports ...")
        # PostgreSQL plans the matching queries from statistics, which an
        # empty database does not have (and autovacuum is off on some
        # servers): the first tenth is seeded, the database analysed, then
        # the rest, as a council's first ANALYZE would do.
        first = len(plan) // 10 if kind == "postgres" else 0
        wall, bad, ms = 0.0, [], []
        for k, part in enumerate((plan[:first], plan[first:])):
            if not part:
                continue
            _, w, bd, m = send_all(server.port, part, sessions, cfg["procs"], cfg["threads"])
            wall, bad, ms = wall + w, bad + bd, ms + m
            if kind == "postgres" and k == 0:
                b.psql("ANALYZE")
        if bad:
            raise RuntimeError(f"{len(bad)} seeding requests failed, e.g. {bad[:3]}")
        res["seed"]["notices"] = {"requests": len(plan), "seconds": round(wall, 1), "per_second": round(len(plan) / wall),
                                  "p99_ms": rb.pct(ms, 99)}
        log(f"    {len(plan) / wall:.0f}/s over {wall:.1f} s, p99 {rb.pct(ms, 99):.1f} ms")
        providers, placements = ap_plan(server.port, codes, weights, sessions, cfg["scale"], rng)
        res_p, wall_p, bad, _ = send_all(server.port, providers, sessions, cfg["procs"], cfg["threads"])
        if bad:
            raise RuntimeError(f"providers failed: {bad[:3]}")
        provider_ids = {}
        for (i, _, _, data) in res_p:
            provider_ids.setdefault(providers[i][2].split("-")[1].split("@")[0], []).append(json.loads(data)["id"])
        children = {code: child_ids(server.port, sessions, code) for code in codes}
        pplan = placements_plan(codes, placements, provider_ids, children, rng)
        _, wall_a, bad, _ = send_all(server.port, pplan, sessions, cfg["procs"], cfg["threads"])
        if bad:
            raise RuntimeError(f"placements failed: {bad[:3]}")
        log(f"  {len(providers):,} providers and {len(pplan):,} placements in {wall_p + wall_a:.1f} s")
        counts = {
            "entries": b.entries_count(),
            "cases": int(b.query("SELECT COUNT(*) FROM cases")[0][0]),
            "home_education_cases": int(b.query("SELECT COUNT(*) FROM cases WHERE kind = 'home_education'")[0][0]),
            "missing_education_cases": int(b.query("SELECT COUNT(*) FROM cases WHERE kind = 'missing_education'")[0][0]),
            "overdue_cases": int(b.query(f"SELECT COUNT(*) FROM cases WHERE status = 'open' AND due_on < '{datetime.date.today()}'")[0][0]),
            "notices": int(b.query("SELECT COUNT(*) FROM deletion_notices")[0][0]),
            "ap_providers": int(b.query("SELECT COUNT(*) FROM ap_providers")[0][0]),
            "ap_placements": int(b.query("SELECT COUNT(*) FROM ap_placements")[0][0]),
        }
        res["counts"] = counts
        log(f"  register: {counts}")
        if kind == "postgres":
            b.psql("ANALYZE")
        # The load: each line a council's caseworker, councils at random.
        lines = {}
        for name, path in (("dashboard", "/api/v1/dashboard"), ("overdue", "/api/v1/cases?overdue=true&per_page=50"),
                           ("scrutiny", "/api/v1/scrutiny")):
            picks = [rng.choice(codes) for _ in range(20_000)]
            lines[name] = os.path.join(b.dir, f"{name}.tsv")
            rb.write_lines(lines[name], [("GET", path, *sessions[f"cw-{c}@bench.example"]) for c in picks])
        routes = {"dashboard": ("GET", "/api/v1/dashboard"), "overdue": ("GET", "/api/v1/cases"),
                  "scrutiny": ("GET", "/api/v1/scrutiny")}
        for name in ("dashboard", "overdue", "scrutiny"):
            for c in cfg["conns"]:
                res["phases"].append(rb.phase(name, routes[name], server, b, lines[name], c, cfg["duration"],
                                              cfg["wthreads"]))
    finally:
        server.stop()
    r = b.cli("audit", "verify", "--register", b.register)
    res["audit_verify"] = {"exit": r.returncode, "out": (r.stdout + r.stderr).strip()[-300:]}
    log(f"  `cnis audit verify`: {res['audit_verify']['out']} (exit {r.returncode})")
    return res


def main():
    cnis = env("CNIS_BIN", "target/release/cnis")
    cfg = {
        "cnis": cnis,
        "scale": float(env("SCALE", "1.0")),
        "duration": int(env("DURATION", "20")),
        "conns": [int(x) for x in env("CONNS", "16").split()],
        "backends": env("BACKENDS", "sqlite postgres").split(),
        "workdir": env("WORKDIR", "/tmp/cnis-bench-casework"),
        "procs": int(env("SEED_PROCS", "3")),
        "threads": int(env("SEED_THREADS", "6")),
        "wthreads": int(env("WRK_THREADS", "2")),
    }
    out = {"when": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
           "machine": f"{os.cpu_count()} cores", "config": {k: v for k, v in cfg.items() if k not in ("cnis", "workdir")},
           "backends": []}
    for kind in cfg["backends"]:
        out["backends"].append(run_backend(kind, cfg))
    print()
    print(f"{'backend':9}{'view':11}{'c':>4}{'req/s':>8}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}  audit = served")
    for r in out["backends"]:
        for p in r["phases"]:
            print(f"{r['backend']:9}{p['phase']:11}{p['concurrency']:>4}{p['rps']:>8.0f}{p['p50_ms']:>9.1f}"
                  f"{p['p99_ms']:>9.1f}{p['max_ms']:>9.1f}  {'yes' if p['audit_ok'] else 'NO'}")
    path = env("RESULTS", f"bench/casework/results-{datetime.date.today()}.json")
    text = json.dumps(out, indent=1)
    for raw, shown in ((cfg["workdir"], "$WORKDIR"), (ROOT + "/", "")):
        text = text.replace(raw, shown)
    with open(path, "w") as f:
        f.write(text)
    print(f"\nresults: {path}")
    ok = all(p["audit_ok"] for r in out["backends"] for p in r["phases"]) and all(
        r["audit_verify"]["exit"] == 0 for r in out["backends"])
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
