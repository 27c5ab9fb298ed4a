"""API fuzz test of the register service, run by tests/api-fuzz/run.sh.

1. `cnis demo` fills a temporary folder with a register and its demo
   accounts; the accounts and the partner system's API token are read from
   what the demo prints.
2. `cnis serve` runs on a free loopback port until /ready answers 200.
3. Each role signs in once (the partner system uses its bearer token), and
   schemathesis fuzzes every operation of /api/openapi.json with that role's
   credentials, checking that no answer is a server error and that every
   status, content type, header and body is the one the document gives.
   Signing in and out are left out of the fuzzing (a fuzzed sign-out ends the
   session, failed sign-ins lock accounts) and tested here by hand instead.
4. The server gets SIGTERM and must stop cleanly (exit 0).

Exits non-zero on any failure, after a short summary per role. The full
schemathesis output and its JSON/NDJSON reports go to
target/api-fuzz-report/.

Environment: CNIS_BIN (required), API_FUZZ_MAX_EXAMPLES, API_FUZZ_SEED.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

PASSWORD = "demo-password-cnis"
PUPILS = 30000
# Test cases per operation and phase. Measured on the 2-core machine: the
# whole run (demo, seven roles, hand-written checks) takes about 2.5 minutes.
MAX_EXAMPLES = int(os.environ.get("API_FUZZ_MAX_EXAMPLES", "40"))
SEED = int(os.environ.get("API_FUZZ_SEED", "20240601"))
CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
]
CHECK_FUNCTIONS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
# Tested by hand below: a fuzzed sign-out would end the session for the rest
# of the run, and failed sign-ins lock an account after five.
EXCLUDED_OPERATIONS = ["sign_in", "sign_out"]
PROBLEM = "application/problem+json"
ROOT = Path(__file__).resolve().parents[2]
REPORT_DIR = ROOT / "target" / "api-fuzz-report"
# The caller's settings must not reach the binary.
CLEAN_ENV = {k: v for k, v in os.environ.items() if k not in ("RUST_LOG", "CNIS_DB", "CNIS_REGISTER", "CNIS_BIND")}


class Abort(Exception):
    """The run cannot go on (the demo, the server or a sign-in failed)."""


@dataclass
class Role:
    """One set of credentials the API is fuzzed with."""

    name: str
    email: str
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Finding:
    """Failures of one check on one operation with one status, and an example."""

    operation: str
    check: str
    status: int | None
    message: str
    detail: str
    request: str
    count: int = 0


@dataclass
class RoleResult:
    """What one schemathesis run over one role found."""

    role: Role
    seconds: float
    exit_code: int
    operations: str = "?"
    examples: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    findings: list[Finding] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return self.exit_code != 0 or bool(self.findings) or bool(self.errors)


def main() -> int:
    cnis = os.environ.get("CNIS_BIN")
    if not cnis:
        print("set CNIS_BIN to the cnis binary", file=sys.stderr)
        return 2
    cnis = os.path.abspath(cnis)
    started = time.monotonic()
    shutil.rmtree(REPORT_DIR, ignore_errors=True)
    REPORT_DIR.mkdir(parents=True)
    tmp = Path(tempfile.mkdtemp(prefix="cnis-api-fuzz-"))
    hand: list[str] = []
    results: list[RoleResult] = []
    problems: list[str] = []
    try:
        accounts, token, councils = run_demo(cnis, tmp)
        work = tmp / "work"
        work.mkdir()
        server = Server(cnis, tmp)
        try:
            base = server.start()
            schema = schemathesis.openapi.from_url(f"{base}/api/openapi.json")
            roles = sign_in_roles(base, schema, accounts, token, councils[0], hand)
            session_checks(base, schema, accounts, councils, hand)
            for role in roles:
                result = fuzz(base, role, work)
                results.append(result)
                print_role(result, slug_of(role))
                still = requests.get(f"{base}/api/v1/me", headers=role.headers, timeout=10)
                if still.status_code != 200:
                    problems.append(f"{role.name}: GET /api/v1/me answers {still.status_code} after fuzzing")
        finally:
            stopped = server.stop()
            problems.extend(stopped)
            if not stopped and server.proc is not None:
                hand.append("ok   cnis serve exited 0 on SIGTERM")
    except Abort as e:
        problems.append(str(e))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    print()
    print("== sign-in and sign-out by hand, and the server's stop")
    for line in hand:
        print(f"  {line}")
    failed_roles = [r.role.name for r in results if r.failed]
    hand_failures = [h for h in hand if h.startswith("FAIL")]
    for p in problems:
        print(f"FAIL {p}")
    minutes = (time.monotonic() - started) / 60
    print(
        f"\napi-fuzz: {len(results)} roles fuzzed, {sum(r.examples for r in results)} test cases, "
        f"{sum(sum(f.count for f in r.findings) for r in results)} failed checks "
        f"(roles failing: {', '.join(failed_roles) or 'none'}), "
        f"{len(hand_failures)} hand-written checks failed, {minutes:.1f} min; "
        f"full output in {REPORT_DIR.relative_to(ROOT)}/"
    )
    return 1 if failed_roles or hand_failures or problems else 0


def run_demo(cnis: str, tmp: Path) -> tuple[dict[str, str], str, list[str]]:
    """Runs the demo into `tmp`; returns account e-mail -> role, the partner's token and the councils."""
    args = [cnis, "demo", "--pupils", str(PUPILS), "--out", str(tmp)]
    print("$ " + shlex.join(args), flush=True)
    out = subprocess.run(
        args,
        cwd=tmp,
        env=CLEAN_ENV,
        capture_output=True,
        text=True,
        timeout=600,
    )
    (REPORT_DIR / "demo.txt").write_text(out.stdout + out.stderr)
    if out.returncode != 0:
        raise Abort(f"cnis demo exited {out.returncode}:\n{out.stdout[-3000:]}{out.stderr[-3000:]}")
    accounts: dict[str, str] = {}
    councils: list[str] = []
    token = None
    for line in out.stdout.splitlines():
        m = re.match(r"^\s+(\S+@([\w-]+)\.demo\.invalid)\s{2,}(\S.*?)\s{2,}\S", line)
        if m:
            accounts[m.group(1)] = m.group(3)
            if m.group(1).startswith("caseworker@"):
                councils.append(m.group(2))
        m = re.search(r"Partner system's API token: ([0-9a-fA-F]+)\s*$", line)
        if m:
            token = m.group(1)
    if token is None or len(councils) < 3:
        raise Abort(f"cannot read the demo accounts and the API token from the demo's output:\n{out.stdout[-3000:]}")
    return accounts, token, councils


class Server:
    """`cnis serve` on the demo register, on a free loopback port."""

    def __init__(self, cnis: str, tmp: Path) -> None:
        self.cnis = cnis
        self.tmp = tmp
        self.log_path = REPORT_DIR / "server.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> str:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        args = [
            self.cnis,
            "serve",
            "--register",
            str(self.tmp / "register.db"),
            "--analytics",
            str(self.tmp / "cnis.db"),
            "--bind",
            f"127.0.0.1:{port}",
            "--insecure-cookies",
        ]
        print("$ " + shlex.join(args), flush=True)
        log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            args, cwd=self.tmp, env=CLEAN_ENV, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise Abort(f"cnis serve exited {self.proc.returncode} before it was ready:\n{self.log()}")
            try:
                if requests.get(f"{base}/ready", timeout=2).status_code == 200:
                    return base
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise Abort(f"cnis serve was not ready within 60 s:\n{self.log()}")

    def stop(self) -> list[str]:
        """SIGTERM, then the problems with how it stopped (none if it exited 0)."""
        if self.proc is None:
            return []
        if self.proc.poll() is not None:
            return [f"cnis serve exited {self.proc.returncode} before it was stopped:\n{self.log()}"]
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return [f"cnis serve did not stop within 30 s of SIGTERM:\n{self.log()}"]
        if code != 0:
            return [f"cnis serve exited {code} on SIGTERM:\n{self.log()}"]
        return []

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:]


def expect(
    hand: list[str],
    schema: Any,
    name: str,
    path: str,
    method: str,
    resp: requests.Response,
    status: int,
    content_type: str | None,
) -> bool:
    """Records whether `resp` has the status and content type expected and conforms to the document."""
    problems = []
    if resp.status_code != status:
        problems.append(f"status {resp.status_code}, expected {status}")
    got_type = resp.headers.get("content-type", "").split(";")[0].strip()
    if content_type is not None and got_type != content_type:
        problems.append(f"Content-Type {got_type or 'none'}, expected {content_type}")
    case = schema[path][method].Case()
    try:
        case.validate_response(resp, checks=CHECK_FUNCTIONS, headers=dict(resp.request.headers))
    except (FailureGroup, Failure) as e:
        failures = e.exceptions if isinstance(e, FailureGroup) else (e,)
        for f in failures:
            what = f.message.replace("\n", "; ")
            problems.append(f"against the document: {f.code} {f.title} ({what})")
    label = f"{method} {path}: {name} -> {resp.status_code}"
    if problems:
        hand.append(f"FAIL {label}: " + "; ".join(problems) + f"; body {resp.text[:300]!r}")
        return False
    hand.append(f"ok   {label}")
    return True


def sign_in(base: str, email: str, password: str = PASSWORD, **kwargs: Any) -> requests.Response:
    body = kwargs.pop("data", None)
    if body is None:
        body = json.dumps({"email": email, "password": password})
    headers = kwargs.pop("headers", {"Content-Type": "application/json"})
    return requests.post(f"{base}/api/v1/session", data=body, headers=headers, timeout=30, **kwargs)


def session_headers(resp: requests.Response) -> dict[str, str]:
    cookie = resp.cookies.get("cnis_session")
    csrf = resp.json().get("csrf") if resp.headers.get("content-type", "").startswith("application/json") else None
    if not cookie or not csrf:
        raise Abort(f"sign-in answered {resp.status_code} without the cnis_session cookie or csrf: {resp.text[:300]}")
    return {"Cookie": f"cnis_session={cookie}", "X-CSRF-Token": csrf}


def sign_in_roles(
    base: str, schema: Any, accounts: dict[str, str], token: str, council: str, hand: list[str]
) -> list[Role]:
    """Signs each role in once; the sessions are reused for the whole run."""
    roles = [
        Role("caseworker", f"caseworker@{council}.demo.invalid"),
        Role("team manager", f"team-manager@{council}.demo.invalid"),
        Role("council admin", f"council-admin@{council}.demo.invalid"),
        Role("school user", f"school@{council}.demo.invalid"),
        Role("national analyst", "analyst@national.demo.invalid"),
        Role("auditor", "auditor@national.demo.invalid"),
        Role("inspector", "inspector@inspectorate.demo.invalid"),
    ]
    for role in roles:
        if role.email not in accounts:
            raise Abort(f"the demo printed no account {role.email}")
        resp = sign_in(base, role.email)
        if not expect(hand, schema, f"sign in as {role.email}", "/api/v1/session", "POST", resp, 200, None):
            raise Abort(f"cannot sign in as {role.email}: {resp.status_code} {resp.text[:300]}")
        role.headers = session_headers(resp)
    partner = "partner@health.demo.invalid"
    if partner not in accounts:
        raise Abort(f"the demo printed no account {partner}")
    roles.append(Role("partner (API token)", partner, {"Authorization": f"Bearer {token}"}))
    return roles


def session_checks(base: str, schema: Any, accounts: dict[str, str], councils: list[str], hand: list[str]) -> None:
    """POST and DELETE /api/v1/session, which the fuzzing leaves out, by hand."""
    post = ("/api/v1/session", "POST")
    json_type = {"Content-Type": "application/json"}
    expect(hand, schema, "body not JSON", *post, sign_in(base, "", data='{"email":', headers=json_type), 400, PROBLEM)
    expect(hand, schema, "no fields", *post, sign_in(base, "", data="{}", headers=json_type), 422, PROBLEM)
    missing = json.dumps({"email": f"caseworker@{councils[2]}.demo.invalid"})
    expect(hand, schema, "no password", *post, sign_in(base, "", data=missing, headers=json_type), 422, PROBLEM)
    plain = {"Content-Type": "text/plain"}
    body = json.dumps({"email": f"caseworker@{councils[2]}.demo.invalid", "password": PASSWORD})
    expect(hand, schema, "Content-Type text/plain", *post, sign_in(base, "", data=body, headers=plain), 415, PROBLEM)
    # One wrong password for an account the fuzzing does not use (five lock it).
    victim = f"school@{councils[2]}.demo.invalid"
    wrong = sign_in(base, victim, "not-the-password")
    expect(hand, schema, "wrong password", *post, wrong, 401, PROBLEM)
    nobody = sign_in(base, "nobody@nowhere.demo.invalid", "not-the-password")
    if expect(hand, schema, "unknown address", *post, nobody, 401, PROBLEM):
        same = wrong.content == nobody.content
        hand.append(
            ("ok   " if same else "FAIL ")
            + "an unknown address and a wrong password get the same answer"
            + ("" if same else f": {wrong.text[:200]!r} vs {nobody.text[:200]!r}")
        )

    delete = ("/api/v1/session", "DELETE")
    email = f"caseworker@{councils[1]}.demo.invalid"
    resp = sign_in(base, email)
    if not expect(hand, schema, f"sign in as {email}", *post, resp, 200, None):
        return
    headers = session_headers(resp)
    cookie = {"Cookie": headers["Cookie"]}

    def sign_out(h: dict[str, str]) -> requests.Response:
        return requests.delete(f"{base}/api/v1/session", headers=h, timeout=10)

    expect(hand, schema, "no session", *delete, sign_out({}), 401, PROBLEM)
    expect(hand, schema, "session, no X-CSRF-Token", *delete, sign_out(cookie), 403, PROBLEM)
    wrong_csrf = {**cookie, "X-CSRF-Token": "0" * 64}
    expect(hand, schema, "session, wrong X-CSRF-Token", *delete, sign_out(wrong_csrf), 403, PROBLEM)
    me = requests.get(f"{base}/api/v1/me", headers=headers, timeout=10)
    expect(hand, schema, "the session still works", "/api/v1/me", "GET", me, 200, "application/json")
    expect(hand, schema, "session and X-CSRF-Token", *delete, sign_out(headers), 204, None)
    me = requests.get(f"{base}/api/v1/me", headers=headers, timeout=10)
    expect(hand, schema, "after signing out", "/api/v1/me", "GET", me, 401, PROBLEM)
    expect(hand, schema, "signing out twice", *delete, sign_out(headers), 401, PROBLEM)


def fuzz(base: str, role: Role, work: Path) -> RoleResult:
    """One schemathesis run over every operation but the excluded ones, with `role`'s credentials."""
    slug = slug_of(role)
    json_path = REPORT_DIR / f"{slug}.json"
    ndjson_path = REPORT_DIR / f"{slug}.ndjson"
    args = [
        str(Path(sys.executable).parent / "schemathesis"),
        "run",
        f"{base}/api/openapi.json",
        "--checks",
        ",".join(CHECKS),
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        str(SEED),
        # One worker: the operations change the register, so their order
        # must not vary from run to run.
        "--workers",
        "1",
        "--continue-on-failure",
        "--generation-database",
        "none",
        # The credentials are the role's: schemathesis must not make up its own.
        "--generation-with-security-parameters",
        "false",
        "--request-timeout",
        "10",
        "--report",
        "json,ndjson",
        "--report-json-path",
        str(json_path),
        "--report-ndjson-path",
        str(ndjson_path),
        "--no-color",
    ]
    for op in EXCLUDED_OPERATIONS:
        args += ["--exclude-operation-id", op]
    shown = list(args)
    for name, value in role.headers.items():
        args += ["--header", f"{name}: {value}"]
        shown += ["--header", f"{name}: <{name.lower()}>"]
    print(f"\n$ {shlex.join(shown)}", flush=True)
    started = time.monotonic()
    # Its working folder is a scratch one: schemathesis and Hypothesis leave
    # folders of their own there.
    out = subprocess.run(args, cwd=work, capture_output=True, text=True, timeout=900)
    result = RoleResult(role, time.monotonic() - started, out.returncode)
    (REPORT_DIR / f"{slug}.txt").write_text(out.stdout + out.stderr)
    try:
        read_reports(result, json_path, ndjson_path)
    except (OSError, ValueError, KeyError) as e:
        result.errors.append(f"cannot read schemathesis's reports: {e!r}")
    if result.exit_code != 0 and not result.findings and not result.errors:
        result.errors.append(f"schemathesis exited {result.exit_code}:\n{(out.stdout + out.stderr)[-3000:]}")
    if not result.failed:
        ndjson_path.unlink(missing_ok=True)  # every request and answer: megabytes, kept only for a failure
    return result


def slug_of(role: Role) -> str:
    return re.sub(r"[^a-z]+", "-", role.name.lower()).strip("-")


def read_reports(result: RoleResult, json_path: Path, ndjson_path: Path) -> None:
    report = json.loads(json_path.read_text())
    ops = report["operations"]
    result.operations = f"{ops['tested']} of {ops['selected']}"
    result.examples = report["test_cases"]["generated"]
    for e in report.get("errors") or []:
        result.errors.append(json.dumps(e)[:1000])
    for kind, items in (report.get("warnings") or {}).items():
        if items:
            result.warnings.append(f"{kind}: {', '.join(map(str, items))}")

    findings: dict[tuple[str, str, int | None], Finding] = {}
    seen: set[tuple[str, str]] = set()
    counted: set[str] = set()
    with open(ndjson_path) as f:
        for line in f:
            event = json.loads(line)
            scenario = event.get("ScenarioFinished")
            if not scenario:
                continue
            recorder = scenario.get("recorder") or {}
            interactions = recorder.get("interactions") or {}
            for case_id, inter in interactions.items():
                if case_id not in counted and inter.get("response"):
                    counted.add(case_id)
                    result.statuses[inter["response"]["status_code"]] += 1
            for case_id, checks in (recorder.get("checks") or {}).items():
                for check in checks:
                    if check.get("status") != "failure" or (case_id, check["name"]) in seen:
                        continue
                    seen.add((case_id, check["name"]))
                    failure = (check.get("failure_info") or {}).get("failure") or {}
                    inter = interactions.get(case_id) or {}
                    response = inter.get("response") or {}
                    status = response.get("status_code")
                    case = ((recorder.get("cases") or {}).get(case_id) or {}).get("value") or {}
                    operation = failure.get("operation") or f"{case.get('method')} {case.get('path')}"
                    key = (operation, check["name"], status)
                    if key not in findings:
                        findings[key] = Finding(
                            operation=operation,
                            check=f"{check['name']} ({failure.get('code', '?')} {failure.get('title', '?')})",
                            status=status,
                            message=(failure.get("message") or "").replace("\n", "; "),
                            detail=detail_of(response.get("content")),
                            request=describe_request(inter.get("request") or {}),
                        )
                    findings[key].count += 1
    result.findings = sorted(findings.values(), key=lambda f: (f.operation, f.check, f.status or 0))


def body_text(content: Any) -> str:
    if isinstance(content, dict):
        if "$base64" in content:
            return base64.b64decode(content["$base64"]).decode("utf-8", "replace")
        return str(content.get("string", content))
    return "" if content is None else str(content)


def detail_of(content: Any) -> str:
    text = body_text(content)
    try:
        doc = json.loads(text)
    except ValueError:
        return text[:200]
    if isinstance(doc, dict) and "detail" in doc:
        detail = str(doc["detail"])
        if doc.get("errors"):
            detail += " " + json.dumps(doc["errors"])
        return detail[:300]
    return text[:200]


def describe_request(request: dict[str, Any]) -> str:
    line = f"{request.get('method', '?')} {request.get('uri', '?')}"
    body = body_text(request.get("body"))
    if body:
        line += f" body {body[:200]!r}"
    return line


def print_role(r: RoleResult, slug: str) -> None:
    """A few lines on one role; every failure, by operation and status, goes to a file."""
    verdict = "FAIL" if r.failed else "ok"
    statuses = " ".join(f"{s}x{n}" for s, n in sorted(r.statuses.items()))
    print(
        f"== {verdict} {r.role.name} ({r.role.email}): {r.operations} operations tested, {r.examples} test cases, "
        f"{sum(f.count for f in r.findings)} failed checks, {r.seconds:.0f} s; statuses {statuses}"
    )
    full = []
    for f in r.findings:
        full += [
            f"{f.operation}: {f.check}, status {f.status}, {f.count} case(s)",
            f"    {f.message}",
            f"    detail: {f.detail}",
            f"    e.g. {f.request}",
        ]
    if full:
        path = REPORT_DIR / f"{slug}-failures.txt"
        path.write_text("\n".join(full) + "\n")
    # The same failure (check and message) on many operations is one line.
    groups: dict[tuple[str, str], list[Finding]] = {}
    for f in r.findings:
        groups.setdefault((f.check, f.message), []).append(f)
    for (check, message), found in groups.items():
        by_op: dict[str, list[str]] = {}
        for f in found:
            by_op.setdefault(f.operation, []).append(str(f.status))
        where = "; ".join(f"{op} ({', '.join(st)})" for op, st in by_op.items())
        e = found[0]
        print(f"  FAIL {check}: {message}")
        print(f"       {sum(f.count for f in found)} case(s) on {len(by_op)} operation(s) (statuses): {where}")
        print(f"       e.g. {e.request} -> {e.status}, detail: {e.detail}")
    if full:
        print(f"       each operation and status: {path.relative_to(ROOT)}")
    for e in r.errors:
        print(f"  ERROR {e}")
    for w in r.warnings:
        print(f"  note (schemathesis warning) {w}")
    sys.stdout.flush()


if __name__ == "__main__":
    sys.exit(main())
