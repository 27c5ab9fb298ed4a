#!/usr/bin/env bash
# Load benchmark of the register service (`cnis serve`): a national-size
# register (300,000 entries across the 153 councils, one caseworker each),
# seeded through the API, then reads of a child, searches and changes from
# wrk in a second process on loopback, on SQLite and then PostgreSQL. Every
# phase checks that the audit grew by exactly one row per audited request
# the server answered (counted from its own request log), and the run ends
# with `cnis audit verify`. Prints a table; writes the figures as JSON.
#
#   bench/register/run.sh                         # 300,000 entries, both backends
#   ENTRIES=20000 DURATION=10 bench/register/run.sh         # a quick run
#   BACKENDS=sqlite READS="16 64 128" bench/register/run.sh
#
# Environment (defaults):
#   CNIS_BIN=target/release/cnis   the binary (built beforehand: this script
#                                  builds nothing)
#   ENTRIES=300000  DURATION=30 (s a phase)
#   READS="16 64"  SEARCHES="16 64"  WRITES="16 64"   concurrencies (wrk -c)
#   BACKENDS="sqlite postgres"
#   PG_URL=postgres://postgres@127.0.0.1:5432  PG_DB=cnis_bench_register
#                                  (dropped and created again each run)
#   WORKDIR=/tmp/cnis-bench-register   registers, server logs, wrk output
#   SEED_PROCS=3 SEED_THREADS=6    seeding clients: processes x connections
#   PG_SEED_SYNC=off   seed PostgreSQL with synchronous_commit off for the
#                      database (twice as fast: 300,000 entries in about a
#                      quarter of an hour, not half an hour), then set it
#                      back to the server's setting and restart cnis serve
#                      before the measured phases; "on" seeds as configured
#   WRK_THREADS=2   PROFILE=1 (perf record the server in the largest read
#                                  phase, when perf is there)
#   PG_ANALYZE=1    ANALYZE the PostgreSQL register after seeding (what
#                   autovacuum would do; it is off on some servers, and
#                   without statistics reads scan the audit tables whole)
#   REUSE=1         skip making and seeding the register: run the phases
#                   on the one the last run left in WORKDIR (and PG_DB)
#   RESULTS=bench/register/results-DATE.json
#
# The load generator is wrk (Debian package `wrk`, installed here with
# apt-get when missing): its Lua script (load.lua) gives every request its
# own child, body and council's session cookie, which a fixed-request tool
# cannot. It runs on the same machine as the server and takes CPU from it.
set -euo pipefail
cd "$(dirname "$0")/../.."

export CNIS_BIN=${CNIS_BIN:-target/release/cnis}
[ -x "$CNIS_BIN" ] || { echo "no cnis binary at $CNIS_BIN (set CNIS_BIN, or cargo build --release -p cnis-cli)" >&2; exit 2; }
export CNIS_BIN=$(realpath "$CNIS_BIN")

if ! command -v wrk >/dev/null; then
  echo "installing wrk (Debian package) ..." >&2
  if [ "$(id -u)" = 0 ]; then
    apt-get install -y -q wrk >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q wrk >/dev/null; }
  else
    sudo apt-get install -y -q wrk >/dev/null
  fi
fi
command -v python3 >/dev/null || { echo "needs python3" >&2; exit 2; }
if [[ " ${BACKENDS:-sqlite postgres} " == *" postgres "* ]]; then
  command -v psql >/dev/null || { echo "needs psql (Debian package postgresql-client) for BACKENDS=postgres" >&2; exit 2; }
  psql "${PG_URL:-postgres://postgres@127.0.0.1:5432}/postgres" -Atqc "SELECT 1" >/dev/null ||
    { echo "PostgreSQL does not answer at ${PG_URL:-postgres://postgres@127.0.0.1:5432}" >&2; exit 2; }
fi

export RESULTS=${RESULTS:-bench/register/results-$(date +%F).json}
exec python3 bench/register/bench.py
