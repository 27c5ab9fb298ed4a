#!/usr/bin/env python3
"""Load benchmark of the register service: run by bench/register/run.sh,
which sets the environment below and makes sure wrk is there.

For each backend (SQLite, then PostgreSQL) it makes a fresh register, adds
one caseworker per council (153) with `cnis user add`, starts `cnis serve
-v`, signs every caseworker in, seeds the register through the API (POST
/api/v1/entries from several processes over keep-alive connections: the
seeding rate is the first write figure), then runs the load phases with
wrk from a second process: reads of a child (GET /api/v1/children/{id}),
searches (POST /api/v1/search) and changes (PUT /api/v1/entries/{id}), each
at the concurrencies asked for. Around every phase it counts the audit
table and the server's own request log, and checks that the audit grew by
exactly one row per audited request the server answered. At the end it
stops the server, runs `cnis audit verify`, and checks the whole run: every
audit row is a request in the server's log or an account the script added.

Environment (run.sh sets the defaults):
  CNIS_BIN        the cnis binary
  ENTRIES         entries in all (300000)
  DURATION        seconds of each load phase (30)
  READS           concurrencies of the read phases ("16 64")
  SEARCHES        concurrencies of the search phases ("16 64")
  WRITES          concurrencies of the write phases ("16 64")
  BACKENDS        "sqlite postgres"
  PG_URL          postgres://postgres@127.0.0.1:5432 (the server; the script
                  drops and creates the database PG_DB there)
  PG_DB           cnis_bench_register
  WORKDIR         where registers, logs and workload files go
  SEED_PROCS      seeding processes (3)
  SEED_THREADS    connections per seeding process (6)
  PG_SEED_SYNC    off: seed PostgreSQL with synchronous_commit off for the
                  database, then reset it and restart the server before
                  the phases (on: seed with the server's setting)
  WRK_THREADS     wrk threads (2)
  PROFILE         1: perf record the server during the largest read phase
                  of the first backend (needs perf)
  PG_ANALYZE      1: ANALYZE the PostgreSQL register after seeding
  REUSE           1: run the phases on the register the last run left
                  (new sessions; changes go to entries still at version 1)
  RESULTS         the JSON file written at the end
"""

import datetime
import http.client
import json
import multiprocessing as mp
import os
import random
import re
import resource
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PASSWORD = "load-benchmark-password-1"

GIVEN_F = """Olivia Amelia Isla Ava Ivy Freya Lily Florence Mia Willow Rosie Sophia Isabella
Grace Daisy Sienna Poppy Elsie Emily Ella Evelyn Phoebe Sofia Evie Charlotte Harper
Millie Matilda Maya Sophie Alice Emilia Isabelle Ruby Luna Maisie Aria Penelope Mila
Bonnie Eva Hallie Eliza Ada Violet Esme Arabella Imogen Jessica Delilah Hannah Aisha
Zara Fatima Maryam Amira Layla Chloe Megan Lucy Holly Ellie Katie Lauren Bethany Niamh
Abigail Erin Amber Leah Caitlin Jasmine Kayla Paige Shannon Courtney""".split()
GIVEN_M = """Noah Oliver George Arthur Muhammad Leo Harry Oscar Archie Henry Theodore Freddie
Jack Charlie Theo Alfie Jacob Thomas Finley Arlo William Lucas Roman Tommy Isaac Teddy
Alexander Luca Edward James Joshua Albie Elijah Max Mohammed Reuben Mason Sebastian
Rory Jude Louie Benjamin Ethan Adam Hugo Joseph Reggie Ronnie Louis Daniel Samuel
Ryan Liam Dylan Kyle Callum Connor Jamie Lewis Nathan Ben Luke Aaron Ibrahim Yusuf Omar
Ali Hamza Zain Bilal Kai Tyler Jayden Riley Mateo Elliot Harvey Toby Ollie Bobby""".split()
FAMILY = """Smith Jones Williams Taylor Brown Davies Evans Wilson Thomas Johnson Roberts
Robinson Thompson Wright Walker White Edwards Hughes Green Hall Lewis Harris Clarke Patel
Jackson Wood Turner Martin Cooper Hill Ward Morris Moore Clark Lee King Baker Harrison
Morgan Allen James Scott Phillips Watson Davis Parker Price Bennett Young Griffiths
Mitchell Kelly Cook Carter Richardson Bailey Collins Bell Shaw Murphy Miller Cox
Richards Khan Marshall Anderson Simpson Ellis Adams Singh Begum Wilkinson Foster Chapman
Powell Webb Rogers Gray Mason Ali Hunt Hussain Campbell Matthews Owen Palmer Holmes Mills
Barnes Knight Lloyd Butler Russell Barker Fisher Stevens Jenkins Murray Dixon Harvey
Graham Pearson Ahmed Fletcher Walsh Kaur Gibson Howard Andrews Stewart Elliott Reynolds
Saunders Payne Fox Ford Pearce Day Brooks West Lawrence Cole Atkinson Bradley Spencer
Gill Dawson Ball Burton O'Brien Watts Rose Booth Perry Ryan Grant Wells Armstrong
Francis Rees Hayes Hart Hudson Newman Barrett Webster Hunter Gregory Carr Lowe Page
Marsh Riley Dunn Woods Parsons Berry Stone Reid Holland Hawkins Harding Porter
Robertson Newton Oliver Reed Kennedy Williamson Bird Gardner Shah Dean Lane Cooke Bates
Henderson Parry Burgess Bishop Walton Burns Nicholson Shepherd Ross Cross Long Freeman
Warren Nicholls Hamilton Byrne Sutton McDonald Yates Hodgson Robson Curtis Hopkins
O'Connor Harper Coleman Watkins Moss McCarthy Chambers Griffin Sharp Hardy Wheeler
Potter Osborne Johnston Gordon Doyle Wallace George Jordan Hutchinson Rowe Burke May
Pritchard Gilbert Willis Higgins Read Miah Stephens Thomson Dennis Lamb Dickinson
Akhtar Iqbal Rahman Nowak Kowalski Popescu Okafor Adeyemi Mensah Silva""".split()
STREETS = """High Street|Station Road|Main Street|Park Road|Church Road|Church Street|
London Road|Victoria Road|Green Lane|Manor Road|Church Lane|Park Avenue|The Avenue|
Queens Road|New Road|Grange Road|Kings Road|Alexandra Road|Albert Road|North Street|
South Street|Mill Lane|School Lane|Springfield Road|George Street|Windsor Road|
York Road|Chapel Street|Queen Street|Highfield Road|Stanley Road|West Street""".replace("\n", "").split("|")
AREAS = """AB AL B BA BB BD BH BL BN BR BS CA CB CH CM CO CR CT CV CW DA DE DH DL DN DT
DY E EN EX FY GL GU HA HD HG HP HR HU HX IG IP KT L LA LE LN LS LU M ME MK N NE NG NN NR
NW OL OX PE PL PO PR RG RH RM S SE SG SK SL SM SN SO SP SR SS ST SW SY TA TF TN TQ TR TS
TW UB W WA WD WF WN WR WS WV YO""".split()
INWARD = "ABDEFGHJLNPQRSTUWXYZ"


def env(name, default):
    return os.environ.get(name, default)


def log(*a):
    print(*a, file=sys.stderr, flush=True)


# --------------------------------------------------------------- CPU accounting


def proc_ticks(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            parts = f.read().rsplit(")", 1)[1].split()
        return int(parts[11]) + int(parts[12])
    except OSError:
        return 0


def postgres_ticks():
    total = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/comm") as f:
                if f.read().strip() != "postgres":
                    continue
        except OSError:
            continue
        total[int(d)] = proc_ticks(int(d))
    return total


def machine_ticks():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]
    return sum(v[:8]), idle


class CpuMeter:
    """CPU used between start() and stop(), as % of one core: the server,
    PostgreSQL (every postgres process), the load generator (children
    reaped meanwhile) and the whole machine (busy %, of all cores)."""

    def __init__(self, server_pid, gen_pid=None):
        self.server_pid = server_pid
        self.gen_pid = gen_pid
        self.result = None

    def _gen(self):
        if self.gen_pid is not None:
            return proc_ticks(self.gen_pid) / os.sysconf("SC_CLK_TCK")
        c = resource.getrusage(resource.RUSAGE_CHILDREN)
        return c.ru_utime + c.ru_stime

    def start(self):
        self.t0 = time.monotonic()
        self.s0 = proc_ticks(self.server_pid)
        self.p0 = postgres_ticks()
        self.g0 = self._gen()
        self.m0 = machine_ticks()

    def stop(self):
        wall = time.monotonic() - self.t0
        hz = os.sysconf("SC_CLK_TCK")
        s = (proc_ticks(self.server_pid) - self.s0) / hz
        p1 = postgres_ticks()
        p = sum(v - self.p0.get(k, 0) for k, v in p1.items()) / hz
        g = self._gen() - self.g0
        m1 = machine_ticks()
        total, idle = m1[0] - self.m0[0], m1[1] - self.m0[1]
        ncpu = os.cpu_count() or 1
        machine = 100.0 * (total - idle) / total * ncpu if total else 0.0
        out = {
            "server": round(100 * s / wall, 1),
            "postgres": round(100 * p / wall, 1),
            "load_generator": round(100 * g / wall, 1),
            "machine": round(machine, 1),
            "cores": ncpu,
        }
        out["other"] = round(max(0.0, machine - out["server"] - out["postgres"] - out["load_generator"]), 1)
        self.result = out
        return out


# ------------------------------------------------------------------ the backends


class Backend:
    def __init__(self, kind, workdir, cnis):
        self.kind = kind
        self.dir = os.path.join(workdir, kind)
        self.cnis = cnis
        if kind == "sqlite":
            self.register = os.path.join(self.dir, "register.db")
        else:
            self.pg = env("PG_URL", "postgres://postgres@127.0.0.1:5432").rstrip("/")
            self.db = env("PG_DB", "cnis_bench_register")
            self.register = f"{self.pg}/{self.db}"

    def psql(self, sql, db=None, sep="|"):
        url = f"{self.pg}/{db or self.db}"
        r = subprocess.run(["psql", url, "-v", "ON_ERROR_STOP=1", "-F", sep, "-Atqc", sql],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"psql: {r.stderr.strip()}")
        return r.stdout.strip()

    def reset(self):
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        if self.kind == "postgres":
            self.psql(f'DROP DATABASE IF EXISTS "{self.db}" WITH (FORCE)', db="postgres")
            self.psql(f'CREATE DATABASE "{self.db}"', db="postgres")
            if env("PG_SEED_SYNC", "off") == "off":
                self.psql(f'ALTER DATABASE "{self.db}" SET synchronous_commit = off', db="postgres")

    def query(self, sql):
        if self.kind == "sqlite":
            c = sqlite3.connect(f"file:{self.register}?mode=ro", uri=True, timeout=30)
            try:
                return [tuple(str(x) for x in r) for r in c.execute(sql).fetchall()]
            finally:
                c.close()
        out = self.psql(sql, sep="\x1f")
        return [tuple(line.split("\x1f")) for line in out.splitlines() if line]

    def entries_count(self):
        return int(self.query("SELECT COUNT(*) FROM register_entries")[0][0])

    def audit_count(self):
        return int(self.query("SELECT COUNT(*) FROM audit_chain")[0][0])

    def cli(self, *args, stdin=None):
        r = subprocess.run(
            [self.cnis, "-q", *args], input=stdin, capture_output=True, text=True, cwd=self.dir
        )
        return r

    def describe(self):
        if self.kind == "sqlite":
            return f"SQLite file {self.register}"
        v = self.psql("SHOW server_version")
        sc = self.psql("SHOW synchronous_commit")
        sb = self.psql("SHOW shared_buffers")
        return f"PostgreSQL {v} on loopback, database {self.db} (synchronous_commit={sc}, shared_buffers={sb})"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Server:
    def __init__(self, backend):
        self.b = backend
        self.port = free_port()
        self.log_path = os.path.join(backend.dir, "server.log")

    def start(self, append=False):
        envv = dict(os.environ, NO_COLOR="1")
        envv.pop("RUST_LOG", None)
        self.log_f = open(self.log_path, "ab" if append else "wb")
        self.out_f = open(os.path.join(self.b.dir, "server.out"), "wb")
        self.proc = subprocess.Popen(
            [self.b.cnis, "serve", "-v", "--register", self.b.register,
             "--bind", f"127.0.0.1:{self.port}", "--insecure-cookies"],
            stdout=self.out_f, stderr=self.log_f, cwd=self.b.dir, env=envv,
        )
        for _ in range(300):
            if self.proc.poll() is not None:
                raise RuntimeError(f"cnis serve exited: see {self.log_path}")
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                c.request("GET", "/ready")
                r = c.getresponse()
                r.read()
                c.close()
                if r.status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError("cnis serve did not become ready")

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log_f.close()
        self.out_f.close()

    def log_size(self):
        self.log_f.flush()
        return os.path.getsize(self.log_path)


LINE = re.compile(r'request method=(\w+) route="([^"]*)" status=(\d+) ms=([0-9.]+)')


def read_log(path, start, end=None):
    """Requests in the server's log between two byte offsets:
    {(method, route): {status: [count, total ms]}}."""
    out = {}
    with open(path, "rb") as f:
        f.seek(start)
        data = f.read() if end is None else f.read(end - start)
    for m in LINE.finditer(data.decode("utf-8", "replace").replace("\x1b", "")):
        k = (m.group(1), m.group(2))
        st = int(m.group(3))
        d = out.setdefault(k, {}).setdefault(st, [0, 0.0])
        d[0] += 1
        d[1] += float(m.group(4))
    return out


# Requests whose answer is audited: what a 2xx (and a refused read) of each
# route leaves in the audit.
AUDITED = {
    ("POST", "/api/v1/session"),
    ("POST", "/api/v1/entries"),
    ("PUT", "/api/v1/entries/{id}"),
    ("GET", "/api/v1/children/{child_id}"),
    ("POST", "/api/v1/search"),
}


def audited_in(reqs):
    n = 0
    for k, by in reqs.items():
        if k not in AUDITED:
            continue
        for st, (c, _) in by.items():
            # 2xx, and a read refused because the child is not the council's
            # (403), are audited; validation and sign-in failures are not.
            if 200 <= st < 300 or (k[1] == "/api/v1/children/{child_id}" and st == 403):
                n += c
    return n


def wait_quiet(server, backend, settle=1.0, limit=30.0):
    """Waits until neither the log nor the audit moves for `settle` s."""
    t_end = time.monotonic() + limit
    last = (server.log_size(), backend.audit_count())
    quiet_since = time.monotonic()
    while time.monotonic() < t_end:
        time.sleep(0.25)
        now = (server.log_size(), backend.audit_count())
        if now != last:
            last = now
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since >= settle:
            break
    return last


# ----------------------------------------------------------------- the register


def council_weights(codes, seed=20261201):
    """Councils' sizes: lognormal weights (some councils ten times others,
    like England's), fixed by the seed."""
    rng = random.Random(seed)
    w = {c: rng.lognormvariate(0.0, 0.7) for c in codes}
    t = sum(w.values())
    return {c: v / t for c, v in w.items()}


def zipf(names, s=0.9):
    return [1.0 / (i + 1) ** s for i in range(len(names))]


def make_plan(n, codes, seed=7):
    """n entries: (council, content), councils interleaved at random."""
    rng = random.Random(seed)
    weights = council_weights(codes)
    floor = min(10, max(1, n // (2 * len(codes))))
    counts = {c: max(floor, round(n * weights[c])) for c in codes}
    # Trim or pad the largest councils, one entry each in turn, to hit n.
    diff = n - sum(counts.values())
    order = sorted(codes, key=lambda c: -counts[c])
    i = 0
    while diff != 0 and i < 100 * len(order) + abs(diff) * 2:
        c = order[i % len(order)]
        if diff > 0:
            counts[c] += 1
            diff -= 1
        elif counts[c] > floor:
            counts[c] -= 1
            diff += 1
        i += 1
    area = {c: AREAS[i % len(AREAS)] for i, c in enumerate(sorted(codes))}
    # Children of 4 to 16, none past compulsory school age (the daily sweep
    # would take them off the register): born from 1 September of the
    # school year in which this year's 16-year-olds turn 16.
    today = datetime.date.today()
    year = today.year if (today.month, today.day) >= (9, 1) else today.year - 1
    oldest = datetime.date(year - 16, 9, 1)
    youngest = today.replace(year=today.year - 4, day=min(today.day, 28))
    span = (youngest - oldest).days
    wf, wm, wfam = zipf(GIVEN_F), zipf(GIVEN_M), zipf(FAMILY)
    plan = []
    for c in codes:
        for _ in range(counts[c]):
            female = rng.random() < 0.5
            given = rng.choices(GIVEN_F if female else GIVEN_M, wf if female else wm)[0]
            family = rng.choices(FAMILY, wfam)[0]
            dob = oldest + datetime.timedelta(days=rng.randrange(span + 1))
            pc = f"{area[c]}{rng.randint(1, 20)} {rng.randint(0, 9)}{rng.choice(INWARD)}{rng.choice(INWARD)}"
            parent = rng.choices(GIVEN_M + GIVEN_F, k=1)[0] if rng.random() < 0.3 else rng.choice(
                ["Sarah", "Emma", "Rachel", "Laura", "Claire", "Nicola", "Helen", "Gemma", "Kelly", "Amy",
                 "David", "Paul", "Mark", "Andrew", "Richard", "Stephen", "Lee", "Craig", "Imran", "Adam"])
            content = {
                "given_name": given,
                "family_name": family,
                "dob": dob.isoformat(),
                "sex": "F" if female else "M",
                "postcode": pc,
                "address": f"{rng.randint(1, 240)} {rng.choice(STREETS)}",
                "parents": [{"name": f"{parent} {family}", "provides_education": rng.random() < 0.7}],
                "reason_not_in_school": rng.choice(
                    ["Elective home education", "Awaiting a school place", "Left a school roll, not known where",
                     "Part-time timetable", "Education other than at school"]),
            }
            plan.append((c, content))
    rng.shuffle(plan)
    return plan


def sign_in_all(port, codes):
    """Signs every caseworker in. The service allows 30 sign-ins a minute
    from one address, so each batch of 20 comes from its own loopback
    address (127.0.0.x, all of which are this machine)."""
    sessions = {}
    errors = []

    def one(i, code):
        src = (f"127.0.0.{10 + i // 20}", 0)
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=60, source_address=src)
        body = json.dumps({"email": f"cw-{code}@bench.example", "password": PASSWORD})
        c.request("POST", "/api/v1/session", body, {"Content-Type": "application/json"})
        r = c.getresponse()
        data = r.read()
        c.close()
        if r.status != 200:
            errors.append((code, r.status, data[:200]))
            return
        token = r.getheader("set-cookie").split(";")[0].split("=", 1)[1]
        sessions[code] = (token, json.loads(data)["csrf"])

    threads = []
    for i, code in enumerate(codes):
        t = threading.Thread(target=one, args=(i, code))
        t.start()
        threads.append(t)
        if len(threads) >= 8:
            for t in threads:
                t.join()
            threads = []
    for t in threads:
        t.join()
    if errors:
        raise RuntimeError(f"sign-ins failed: {errors[:3]}")
    return sessions


# Seeding runs in forked processes that inherit these.
_SEED = {}
CREATED = re.compile(rb'^\{"id":(\d+),"council":"(\w+)","child_id":"([^"]+)","status":"\w+","version":(\d+)')


def _seed_thread(lo, hi, out):
    port, plan, bodies, sessions = _SEED["port"], _SEED["plan"], _SEED["bodies"], _SEED["sessions"]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    for i in range(lo, hi):
        code = plan[i][0]
        token, csrf = sessions[code]
        h = {"Content-Type": "application/json", "Cookie": f"cnis_session={token}", "X-CSRF-Token": csrf}
        t0 = time.perf_counter()
        try:
            conn.request("POST", "/api/v1/entries", bodies[i], h)
            r = conn.getresponse()
            data = r.read()
            status = r.status
        except (OSError, http.client.HTTPException):
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            out.append((i, 0, "", 0, (time.perf_counter() - t0) * 1000))
            continue
        ms = (time.perf_counter() - t0) * 1000
        m = CREATED.match(data) if status == 201 else None
        if m:
            out.append((i, int(m.group(1)), m.group(3).decode(), status, ms))
        elif status == 201:
            e = json.loads(data)
            out.append((i, e["id"], e["child_id"], status, ms))
        else:
            out.append((i, 0, "", status, ms))
    conn.close()


def _seed_proc(args):
    lo, hi, nthreads = args
    outs = []
    threads = []
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


def seed(port, plan, sessions, procs, threads):
    bodies = [
        json.dumps({"content": c, "source": "hand", "reason": "Reported by a neighbour (load benchmark)"}).encode()
        for _, c in plan
    ]
    _SEED.update(port=port, plan=plan, bodies=bodies, sessions=sessions)
    n = len(plan)
    step = (n + procs - 1) // procs
    ranges = [(i * step, min(n, (i + 1) * step), threads) for i in range(procs) if i * step < n]
    ctx = mp.get_context("fork")
    t0 = time.monotonic()
    with ctx.Pool(len(ranges)) as pool:
        parts = pool.map(_seed_proc, ranges)
    wall = time.monotonic() - t0
    results = sorted(x for p in parts for x in p)
    return results, wall


def pct(values, p):
    if not values:
        return None
    v = sorted(values)
    k = min(len(v) - 1, max(0, int(round(p / 100.0 * len(v) + 0.5)) - 1))
    return v[k]


# ------------------------------------------------------------------ workloads


def write_lines(path, lines):
    with open(path, "w") as f:
        for line in lines:
            f.write("\t".join(line) + "\n")
    return len(lines)


def workloads(wdir, plan, created, sessions, nwrites):
    """Files of request lines for wrk (see load.lua)."""
    rng = random.Random(11)
    ok = [(i, eid, child) for (i, eid, child, st, _) in created if st == 201]
    tok = lambda code: sessions[code]  # noqa: E731
    # Reads: children of every council, in random order.
    sample = rng.sample(ok, min(len(ok), 100_000))
    reads = [("GET", f"/api/v1/children/{child}", *tok(plan[i][0])) for (i, _, child) in sample]
    # Searches: names of children on the council's register, as a caseworker
    # types them: given and family name (60%), family name alone (20%), or
    # both with the date of birth (20%).
    searches = []
    for (i, _, _) in rng.sample(ok, min(len(ok), 50_000)):
        code, c = plan[i]
        r = rng.random()
        if r < 0.6:
            q = {"given_name": c["given_name"], "family_name": c["family_name"]}
        elif r < 0.8:
            q = {"family_name": c["family_name"]}
        else:
            q = {"given_name": c["given_name"], "family_name": c["family_name"], "dob": c["dob"]}
        searches.append(("POST", "/api/v1/search", *tok(code), json.dumps(q)))
    # Writes: each entry changed once per pass (version @V@), entries split
    # between the write phases so each starts at version 1.
    order = ok[:]
    rng.shuffle(order)
    per = max(1, min(60_000, len(order) // max(1, nwrites)))
    writes = []
    for k in range(nwrites):
        lines = []
        for (i, eid, _) in order[k * per:(k + 1) * per]:
            code, c = plan[i]
            c2 = dict(c, address="Flat 2, " + c["address"], notes="Moved within the council's area")
            body = '{"version":@V@,"content":' + json.dumps(c2) + ',"reason":"Address changed (load benchmark)"}'
            lines.append(("PUT", f"/api/v1/entries/{eid}", *tok(code), body))
        writes.append(lines)
    files = {
        "reads": os.path.join(wdir, "reads.tsv"),
        "searches": os.path.join(wdir, "searches.tsv"),
    }
    write_lines(files["reads"], reads)
    write_lines(files["searches"], searches)
    for k, lines in enumerate(writes):
        files[f"writes{k}"] = os.path.join(wdir, f"writes-{k}.tsv")
        write_lines(files[f"writes{k}"], lines)
    return files, {k: sum(1 for _ in open(v)) for k, v in files.items()}


# ---------------------------------------------------------------------- phases


GRACE = 5  # seconds wrk waits, after the active time, for requests in flight


def run_wrk(port, lines_file, conns, duration, wthreads, out_path, server_pid):
    """Runs wrk; measures CPU over the active time (not the grace)."""
    t = min(wthreads, conns)
    cmd = ["wrk", f"-t{t}", f"-c{conns}", f"-d{duration + GRACE}s", "--timeout", "20s",
           "-s", os.path.join(HERE, "load.lua"), f"http://127.0.0.1:{port}", "--", lines_file, str(t),
           str(duration)]
    with open(out_path, "w") as f:
        p = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, text=True)
        cpu = CpuMeter(server_pid, p.pid)
        cpu.start()
        timer = threading.Timer(duration, cpu.stop)
        timer.start()
        rc = p.wait()
        timer.join()
    text = open(out_path).read()
    m = re.search(r"^WRK_JSON (.*)$", text, re.M)
    if rc != 0 or not m:
        raise RuntimeError(f"wrk failed ({rc}): {text[-2000:]}")
    return json.loads(m.group(1)), " ".join(cmd), cpu.result


def perf_profile(pid, seconds, out_dir):
    """Samples the server's stacks (DWARF unwinding: a release build has no
    frame pointers) for `seconds` while a phase runs."""
    data = os.path.join(out_dir, "perf.data")
    cmd = ["perf", "record", "-F", "199", "--call-graph", "dwarf,16384", "-p", str(pid), "-o", data,
           "--", "sleep", str(seconds)]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL), data


def perf_report(data, out_dir):
    """Inclusive (time in a function and what it calls) and self time by
    symbol, and self time by library, as text files beside the register."""
    reports = {}
    for name, args in [
        ("inclusive", ["--children", "--sort", "symbol", "--percent-limit", "2"]),
        ("self", ["--no-children", "--sort", "symbol", "--percent-limit", "0.5"]),
        ("dso", ["--no-children", "--sort", "dso", "--percent-limit", "0.5"]),
    ]:
        path = os.path.join(out_dir, f"perf-{name}.txt")
        r = subprocess.run(["perf", "report", "-i", data, "--stdio", "-g", "none", *args],
                           capture_output=True, text=True)
        with open(path, "w") as f:
            for line in r.stdout.splitlines():
                line = re.sub(r"\s+", " ", line).strip()
                if line and not line.startswith("#"):
                    f.write(line[:240] + "\n")
        reports[name] = path
    return reports


def phase(name, route, server, backend, lines_file, conns, duration, wthreads, profile=False):
    log(f"  [{backend.kind}] {name}: c={conns}, {duration} s ...")
    before_audit = backend.audit_count()
    before_log = server.log_size()
    prof = None
    if profile:
        prof = threading.Timer(min(5, duration / 4), lambda: prof_box.append(
            perf_profile(server.proc.pid, max(4, min(8, int(duration * 0.3))), backend.dir)))
        prof_box = []
        prof.start()
    w, cmd, usage = run_wrk(server.port, lines_file, conns, duration, wthreads,
                            os.path.join(backend.dir, f"wrk-{name}-c{conns}.txt"), server.proc.pid)
    log_end, after_audit = wait_quiet(server, backend)
    reqs = read_log(server.log_path, before_log, log_end)
    by = reqs.get(route, {})
    served_2xx = sum(c for st, (c, _) in by.items() if 200 <= st < 300)
    other = {f"{st}": c for st, (c, _) in sorted(by.items()) if not 200 <= st < 300}
    ms_2xx = sum(t for st, (c, t) in by.items() if 200 <= st < 300)
    expected = audited_in(reqs)
    # Requests start only in the first `duration` seconds (load.lua).
    secs = float(duration)
    lat = w["latency_us"]
    rec = {
        "backend": backend.kind,
        "phase": name,
        "method": route[0],
        "route": route[1],
        "concurrency": conns,
        "seconds": round(secs, 2),
        "wrk_command": cmd,
        "completed": w["requests"],
        "sent": w["sent"],
        "cut_off": w["sent"] - w["requests"],
        "rps": round(w["requests"] / secs, 1),
        "p50_ms": lat["p50"] / 1000,
        "p90_ms": lat["p90"] / 1000,
        "p99_ms": lat["p99"] / 1000,
        "p999_ms": lat["p999"] / 1000,
        "max_ms": lat["max"] / 1000,
        "wrk_errors": w["errors"],
        "server_2xx": served_2xx,
        "server_other": other,
        "server_mean_ms": round(ms_2xx / served_2xx, 3) if served_2xx else None,
        "server_other_routes": {f"{m} {r}": sum(c for c, _ in v.values()) for (m, r), v in reqs.items()
                                if (m, r) != route},
        "audit_before": before_audit,
        "audit_after": after_audit,
        "audit_delta": after_audit - before_audit,
        "audited_requests": expected,
        "audit_ok": after_audit - before_audit == expected,
        "cpu_percent": usage,
    }
    log(f"    {rec['rps']:.0f}/s p50 {rec['p50_ms']:.2f} ms p99 {rec['p99_ms']:.2f} ms; "
        f"wrk {rec['completed']} done ({rec['cut_off']} cut off), server {served_2xx} 2xx {other or ''}; "
        f"audit +{rec['audit_delta']} (expected {expected}) {'ok' if rec['audit_ok'] else 'MISMATCH'}; "
        f"cpu server {usage['server']}% pg {usage['postgres']}% wrk {usage['load_generator']}% "
        f"machine {usage['machine']}%")
    if profile and prof_box:
        p, data = prof_box[0]
        p.wait()
        rec["perf"] = perf_report(data, backend.dir)
    return rec


# ------------------------------------------------------------------------ main


def add_accounts(b, res):
    """An auditor first (creates the register, so its councils table says
    which councils there are), then a caseworker per council."""
    t0 = time.monotonic()
    r = b.cli("user", "add", "--register", b.register, "--email", "auditor@bench.example",
              "--name", "Bench auditor", "--role", "auditor", "--password-stdin", stdin=PASSWORD + "\n")
    if r.returncode != 0:
        raise RuntimeError(f"cnis user add: {r.stderr}")
    codes = [row[0] for row in b.query("SELECT code FROM councils ORDER BY code")]
    for code in codes:
        r = b.cli("user", "add", "--register", b.register, "--email", f"cw-{code}@bench.example",
                  "--name", f"Caseworker {code}", "--role", "caseworker", "--council", code,
                  "--password-stdin", stdin=PASSWORD + "\n")
        if r.returncode != 0:
            raise RuntimeError(f"cnis user add {code}: {r.stderr}")
    accounts = 1 + len(codes)
    res["councils"] = len(codes)
    res["accounts_seconds"] = round(time.monotonic() - t0, 1)
    res["describe"] = b.describe()
    log(f"  {len(codes)} councils, {accounts} accounts in {res['accounts_seconds']} s")

    return accounts, codes


def run_backend(kind, cfg):
    b = Backend(kind, cfg["workdir"], cfg["cnis"])
    log(f"== {kind}: {b.register}")
    res = {"backend": kind, "register": b.register, "phases": []}
    if cfg["reuse"]:
        # The register, sessions and workload files of an earlier run.
        if not os.path.exists(os.path.join(b.dir, "reads.tsv")):
            raise RuntimeError(f"REUSE=1: no earlier run in {b.dir}")
        codes = [row[0] for row in b.query("SELECT code FROM councils ORDER BY code")]
        accounts = int(b.query("SELECT COUNT(*) FROM users")[0][0])
        res["councils"] = len(codes)
        res["reused"] = True
        res["describe"] = b.describe()
        log(f"  reusing the register seeded before: {b.entries_count():,} entries")
    else:
        b.reset()
        accounts, codes = add_accounts(b, res)

    server = Server(b)
    server.start(append=cfg["reuse"])
    try:
        if cfg["reuse"]:
            wait_quiet(server, b)  # the daily sweep runs at start
            audit0 = b.audit_count()
            files = {"reads": os.path.join(b.dir, "reads.tsv"), "searches": os.path.join(b.dir, "searches.tsv")}
            files.update(fresh_writes(b, server, cfg, codes))
        else:
            audit0 = b.audit_count()
            files = seed_register(b, server, cfg, codes, res)
        if kind == "postgres" and cfg["pg_analyze"]:
            # What autovacuum does after a bulk load; this server may run
            # without it (autovacuum is off here), and without statistics
            # the planner scans whole tables.
            t0 = time.monotonic()
            b.psql("ANALYZE")
            res["analyze_seconds"] = round(time.monotonic() - t0, 1)
            res["autovacuum"] = b.psql("SHOW autovacuum")
            log(f"  ANALYZE in {res['analyze_seconds']} s (autovacuum: {res['autovacuum']})")
        res["describe"] = b.describe()  # as the phases run
        run_phases(b, server, cfg, files, res)
        res["audit_rows_at_end"] = b.audit_count()
    finally:
        server.stop()
    return finish_backend(b, server, accounts, audit0, res)


def fresh_writes(b, server, cfg, codes):
    """For a reused register: write lines for entries still at version 1
    (the earlier run's writes moved the others on), with new sessions."""
    sessions = sign_in_all(server.port, codes)
    rows = b.query("SELECT id, council, content FROM register_entries WHERE version = 1")
    if cfg["writes"] and len(rows) < 1000:
        raise RuntimeError(f"REUSE=1: only {len(rows)} entries left at version 1; seed the register again")
    random.Random(13).shuffle(rows)
    n = max(1, len(cfg["writes"]))
    per = max(1, min(60_000, len(rows) // n))
    files = {}
    for k in range(len(cfg["writes"])):
        lines = []
        for eid, code, content in rows[k * per:(k + 1) * per]:
            c = json.loads(content)
            c2 = dict(c, address="Flat 2, " + (c.get("address") or ""), notes="Moved within the council's area")
            body = '{"version":@V@,"content":' + json.dumps(c2) + ',"reason":"Address changed (load benchmark)"}'
            lines.append(("PUT", f"/api/v1/entries/{eid}", *sessions[code], body))
        files[f"writes{k}"] = os.path.join(b.dir, f"writes-{k}.tsv")
        write_lines(files[f"writes{k}"], lines)
    log(f"  {len(sessions)} caseworkers signed in; {len(rows):,} entries still at version 1 to change")
    return files


def seed_register(b, server, cfg, codes, res):
    """Signs the caseworkers in, seeds the register through the API and
    writes the workload files."""
    kind = b.kind
    sessions = sign_in_all(server.port, codes)
    log(f"  {len(sessions)} caseworkers signed in")

    plan = make_plan(cfg["entries"], codes)
    sizes = {}
    for c, _ in plan:
        sizes[c] = sizes.get(c, 0) + 1
    res["council_sizes"] = {"min": min(sizes.values()), "median": sorted(sizes.values())[len(sizes) // 2],
                            "max": max(sizes.values())}

    # Seeding: the write throughput of creating entries.
    log(f"  seeding {len(plan)} entries ({cfg['seed_procs']} processes x {cfg['seed_threads']} connections) ...")
    before_audit = b.audit_count()
    before_log = server.log_size()
    cpu = CpuMeter(server.proc.pid)
    cpu.start()
    # The seeding clients are forked children, reaped by the pool.
    created, wall = seed(server.port, plan, sessions, cfg["seed_procs"], cfg["seed_threads"])
    usage = cpu.stop()
    log_end, after_audit = wait_quiet(server, b)
    reqs = read_log(server.log_path, before_log, log_end)
    by = reqs.get(("POST", "/api/v1/entries"), {})
    ok = [x for x in created if x[3] == 201]
    lat = [x[4] for x in ok]
    served = sum(c for st, (c, _) in by.items() if 200 <= st < 300)
    rec = {
        "backend": kind,
        "phase": "seed",
        "method": "POST",
        "route": "/api/v1/entries",
        "concurrency": cfg["seed_procs"] * cfg["seed_threads"],
        "seconds": round(wall, 2),
        "completed": len(created),
        "created": len(ok),
        "rps": round(len(ok) / wall, 1),
        "p50_ms": round(pct(lat, 50), 3),
        "p90_ms": round(pct(lat, 90), 3),
        "p99_ms": round(pct(lat, 99), 3),
        "p999_ms": round(pct(lat, 99.9), 3),
        "max_ms": round(max(lat), 3),
        "client_errors": len(created) - len(ok),
        "server_2xx": served,
        "server_other": {f"{st}": c for st, (c, _) in sorted(by.items()) if not 200 <= st < 300},
        "server_mean_ms": round(sum(t for st, (c, t) in by.items() if 200 <= st < 300) / served, 3)
        if served else None,
        "audit_before": before_audit,
        "audit_after": after_audit,
        "audit_delta": after_audit - before_audit,
        "audited_requests": audited_in(reqs),
        "audit_ok": after_audit - before_audit == audited_in(reqs),
        "cpu_percent": usage,
        "client": "python3 http.client, keep-alive (bench.py seed)",
    }
    res["phases"].append(rec)
    log(f"    {rec['rps']:.0f} entries/s over {wall:.1f} s, p50 {rec['p50_ms']:.2f} ms p99 {rec['p99_ms']:.2f} ms; "
        f"errors {rec['client_errors']}; audit +{rec['audit_delta']} (expected {rec['audited_requests']}) "
        f"{'ok' if rec['audit_ok'] else 'MISMATCH'}; cpu server {usage['server']}% pg {usage['postgres']}% "
        f"clients {usage['load_generator']}% machine {usage['machine']}%")

    if kind == "postgres" and env("PG_SEED_SYNC", "off") == "off":
        # Seeded without waiting for each commit's WAL flush (to save
        # time); the phases below run with the server's own setting.
        b.psql(f'ALTER DATABASE "{b.db}" RESET synchronous_commit', db="postgres")
        server.stop()
        server.start(append=True)
        wait_quiet(server, b)  # the daily sweep runs at start
        rec["synchronous_commit"] = "off"
        log("  synchronous_commit back to the server's setting; cnis serve restarted")

    nwrites = len(cfg["writes"])
    files, nlines = workloads(b.dir, plan, created, sessions, nwrites)
    res["workload_lines"] = nlines
    return files


def run_phases(b, server, cfg, files, res):
    """Reads, searches and changes, at each concurrency asked for."""
    d, wt = cfg["duration"], cfg["wrk_threads"]
    biggest_read = max(cfg["reads"]) if cfg["reads"] else None
    for c in cfg["reads"]:
        prof = cfg["profile"] and c == biggest_read
        res["phases"].append(phase("read", ("GET", "/api/v1/children/{child_id}"), server, b, files["reads"],
                                   c, d, wt, profile=prof))
    for c in cfg["searches"]:
        res["phases"].append(phase("search", ("POST", "/api/v1/search"), server, b, files["searches"], c, d, wt))
    for k, c in enumerate(cfg["writes"]):
        res["phases"].append(phase("write", ("PUT", "/api/v1/entries/{id}"), server, b, files[f"writes{k}"],
                                   c, d, wt))


def finish_backend(b, server, accounts, audit0, res):
    # The whole run: every audit row is an account added by the CLI or an
    # audited request in the server's log.
    all_reqs = read_log(server.log_path, 0)
    swept = sum(int(x) + int(y) for x, y in re.findall(r"daily sweep left=(\d+) deleted=(\d+)",
                                                         open(server.log_path, errors="replace").read()))
    res["swept"] = swept
    res["audit_rows_expected"] = accounts + audited_in(all_reqs) + swept
    res["audit_rows_start_of_serving"] = audit0
    res["audit_rows"] = b.audit_count()
    res["audit_whole_run_ok"] = res["audit_rows"] == res["audit_rows_expected"]
    r2 = subprocess.run([b.cnis, "audit", "verify", "--register", b.register], capture_output=True,
                        text=True, cwd=b.dir)
    res["audit_verify"] = {"exit": r2.returncode, "output": (r2.stdout + r2.stderr).strip()}
    log(f"  audit: {res['audit_rows']} rows, expected {res['audit_rows_expected']} "
        f"({'ok' if res['audit_whole_run_ok'] else 'MISMATCH'}); verify: {res['audit_verify']['output']}")
    if b.kind == "sqlite":
        res["register_bytes"] = sum(os.path.getsize(b.register + s) for s in ("", "-wal")
                                    if os.path.exists(b.register + s))
    else:
        res["register_bytes"] = int(b.psql(f"SELECT pg_database_size('{b.db}')"))
    return res


def table(results):
    rows = []
    head = ("backend", "phase", "c", "req/s", "p50 ms", "p99 ms", "max ms", "done (gen)", "2xx (server)",
            "errors", "audit +", "audit = served", "cpu server/pg/gen/machine %")
    rows.append(head)
    for res in results:
        for p in res["phases"]:
            if p["phase"] == "seed":
                errs = p["client_errors"]
            else:
                errs = sum(p["wrk_errors"].values())
            cpu = p["cpu_percent"]
            rows.append((
                p["backend"], p["phase"] + (" (POST)" if p["phase"] == "seed" else ""), str(p["concurrency"]),
                f"{p['rps']:,.0f}", f"{p['p50_ms']:.2f}", f"{p['p99_ms']:.2f}", f"{p['max_ms']:.1f}",
                f"{p['completed']:,}", f"{p['server_2xx']:,}", str(errs), f"{p['audit_delta']:,}",
                "yes" if p["audit_ok"] else f"NO ({p['audited_requests']:,})",
                f"{cpu['server']:.0f}/{cpu['postgres']:.0f}/{cpu['load_generator']:.0f}/{cpu['machine']:.0f}",
            ))
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    out = []
    for k, r in enumerate(rows):
        out.append("  ".join(x.rjust(widths[i]) if i >= 2 else x.ljust(widths[i]) for i, x in enumerate(r)))
        if k == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def main():
    ints = lambda s: [int(x) for x in s.split()]  # noqa: E731
    cfg = {
        "cnis": os.path.abspath(env("CNIS_BIN", "target/release/cnis")),
        "entries": int(env("ENTRIES", "300000")),
        "duration": int(env("DURATION", "30")),
        "reads": ints(env("READS", "16 64")),
        "searches": ints(env("SEARCHES", "16 64")),
        "writes": ints(env("WRITES", "16 64")),
        "backends": env("BACKENDS", "sqlite postgres").split(),
        "workdir": os.path.abspath(env("WORKDIR", "/tmp/cnis-bench-register")),
        "seed_procs": int(env("SEED_PROCS", "3")),
        "seed_threads": int(env("SEED_THREADS", "6")),
        "wrk_threads": int(env("WRK_THREADS", "2")),
        "profile": env("PROFILE", "1") == "1" and shutil.which("perf") is not None,
        "reuse": env("REUSE", "0") == "1",
        "pg_analyze": env("PG_ANALYZE", "1") == "1",
    }
    os.makedirs(cfg["workdir"], exist_ok=True)
    version = subprocess.run([cfg["cnis"], "--version"], capture_output=True, text=True).stdout.strip()
    commit = subprocess.run(["git", "-C", HERE, "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", HERE, "status", "--porcelain", "--", "crates"], capture_output=True,
                           text=True).stdout.strip()
    wrkv = subprocess.run(["wrk", "--version"], capture_output=True, text=True)
    meta = {
        "date": datetime.date.today().isoformat(),
        "started": datetime.datetime.now().isoformat(timespec="seconds"),
        "machine": f"{os.cpu_count()} cores, {round(os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30)} GiB, "
                   f"{os.uname().machine}",
        "cnis": cfg["cnis"],
        "cnis_version": version,
        "commit": commit + (" (crates/ changed since)" if dirty else ""),
        "load_generator": (wrkv.stdout + wrkv.stderr).splitlines()[0] if (wrkv.stdout + wrkv.stderr) else "wrk",
        "config": {k: v for k, v in cfg.items() if k not in ("cnis",)},
    }
    log(f"cnis register load benchmark: {meta['machine']}; {version}; commit {meta['commit']}")
    log(f"  entries {cfg['entries']}, {cfg['duration']} s a phase, reads c={cfg['reads']}, "
        f"searches c={cfg['searches']}, writes c={cfg['writes']}, backends {cfg['backends']}")
    results = []
    for kind in cfg["backends"]:
        results.append(run_backend(kind, cfg))
    out = {"meta": meta, "results": results}
    path = env("RESULTS", os.path.join(cfg["workdir"], "results.json"))
    # The results are kept in the repository: no path of this machine in
    # them (the work directory as $WORKDIR, the checkout as relative).
    text = json.dumps(out, indent=1)
    text = text.replace(cfg["workdir"], "$WORKDIR").replace(os.getcwd() + "/", "")
    with open(path, "w") as f:
        f.write(text)
    print()
    print(f"cnis register service under load: {meta['machine']}; {meta['date']}; {version}; commit {meta['commit']}")
    print(f"{cfg['entries']:,} entries across {results[0]['councils'] if results else 0} councils; "
          f"{cfg['duration']} s a phase; load from {meta['load_generator'].split(' [')[0]} on the same machine")
    print()
    print(table(results))
    print()
    for res in results:
        v = res["audit_verify"]
        print(f"{res['backend']}: audit {res['audit_rows']:,} rows, expected {res['audit_rows_expected']:,} "
              f"(accounts + audited requests in the server's log): "
              f"{'ok' if res['audit_whole_run_ok'] else 'MISMATCH'}; `cnis audit verify`: {v['output']} "
              f"(exit {v['exit']}); register {res['register_bytes'] / 2**20:,.0f} MiB")
    for res in results:
        for p in res["phases"]:
            if "perf" in p:
                print(f"\nperf profile of the server ({res['backend']}, {p['phase']} c={p['concurrency']}): "
                      f"{p['perf']['inclusive']}")
    print(f"\nresults: {path}")
    ok = all(p["audit_ok"] for r in results for p in r["phases"]) and all(
        r["audit_whole_run_ok"] and r["audit_verify"]["exit"] == 0 for r in results)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
