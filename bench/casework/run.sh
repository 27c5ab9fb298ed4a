#!/usr/bin/env bash
# Casework at national scale (bench/casework/bench.py): a register filled
# through the API with home-education and missing-education cases from
# schools' notices and absence reports, and alternative provision
# placements, in proportion to the published figures for England; then
# each council caseworker's dashboard, overdue cases and deregistration
# scrutiny view under load from wrk, on SQLite and PostgreSQL.
#
#   bench/casework/run.sh                       # national scale, both backends
#   SCALE=0.05 DURATION=5 BACKENDS=sqlite bench/casework/run.sh   # a quick run
#
# Environment (defaults): CNIS_BIN=target/release/cnis (built beforehand),
# SCALE=1.0, DURATION=20 (s a phase), CONNS="16", BACKENDS="sqlite postgres",
# PG_URL=postgres://postgres@127.0.0.1:5432, PG_DB=cnis_bench_casework
# (dropped and created again), WORKDIR=/tmp/cnis-bench-casework,
# SEED_PROCS=3, SEED_THREADS=6, WRK_THREADS=2,
# RESULTS=bench/casework/results-DATE.json
set -euo pipefail
cd "$(dirname "$0")/../.."
export CNIS_BIN=${CNIS_BIN:-target/release/cnis}
[ -x "$CNIS_BIN" ] || { echo "no cnis binary at $CNIS_BIN (cargo build --release -p cnis-cli)" >&2; exit 2; }
export CNIS_BIN=$(realpath "$CNIS_BIN")
if ! command -v wrk >/dev/null; then
  echo "installing wrk (Debian package) ..." >&2
  if [ "$(id -u)" = 0 ]; then
    apt-get install -y -q wrk >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q wrk >/dev/null; }
  else
    sudo apt-get install -y -q wrk >/dev/null
  fi
fi
if [[ " ${BACKENDS:-sqlite postgres} " == *" postgres "* ]]; then
  command -v psql >/dev/null || { echo "needs psql for BACKENDS=postgres" >&2; exit 2; }
fi
export RESULTS=${RESULTS:-bench/casework/results-$(date +%F).json}
exec python3 bench/casework/bench.py
