#!/usr/bin/env bash
# Macro benchmark: synth + ingest + track as a user runs them, one command at
# a time, at the sizes given (default 1 million and the national 8.5 million
# pupils). Prints wall time and peak memory (max RSS) of every step and the
# totals. Needs GNU time (Debian package `time`).
#
#   bench/pipeline.sh [PUPILS ...]
#   RATES=default bench/pipeline.sh ...     # the generator's rates (default: hard)
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(1000000 8500000)
rates=${RATES:-hard}
command -v /usr/bin/time >/dev/null || { echo "needs GNU time: apt-get install time" >&2; exit 2; }
cargo build --release -q -p cnis-cli
cnis=$PWD/target/release/cnis
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -m); commit $(git rev-parse --short HEAD)"

for n in "${sizes[@]}"; do
  out=bench/out/$n
  rm -rf "$out"; mkdir -p "$out"
  log=$out/steps.tsv
  : > "$log"
  step() { # name, command... (exit 1, problems found in the data, is not a failure)
    local name=$1; shift
    local rc=0
    /usr/bin/time -f "%e\t%M" -o "$out/.t" "$@" > /dev/null || rc=$?
    [ "$rc" -le 1 ] || { echo "$name failed ($rc)" >&2; exit "$rc"; }
    printf "%s\t%s\n" "$name" "$(tail -n 1 "$out/.t")" >> "$log"
  }
  db=(--db "$out/cnis.db" -q)
  d=$out/data
  step synth "$cnis" -q synth --pupils "$n" --rates "$rates" --out "$d"
  a=$(python3 -c "import json;print(json.load(open('$d/manifest.json'))['census_a_date'])")
  b=$(python3 -c "import json;print(json.load(open('$d/manifest.json'))['census_b_date'])")
  q=(--quarantine-dir "$out/quarantine")
  step ingest-schools "$cnis" "${db[@]}" ingest schools "$d/schools.csv" "${q[@]}"
  step ingest-postcodes "$cnis" "${db[@]}" ingest postcodes "$d/postcode-deprivation.csv" "${q[@]}"
  step ingest-census-a "$cnis" "${db[@]}" ingest census "$d/spring-census-${a:0:4}.csv" --census-date "$a" "${q[@]}"
  step ingest-census-b "$cnis" "${db[@]}" ingest census "$d/spring-census-${b:0:4}.csv" --census-date "$b" "${q[@]}"
  # Every source file the manifest lists, with the regulations it states
  # for a file of bare deletion-ground letters.
  python3 - "$d/manifest.json" > "$out/sources.tsv" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
regs = dict((f, y) for f, y in m.get("regulations", []))
rows = dict(m["rows"])
for kind, f in m["sources"]:
    if rows.get(f, 0) > 0:
        print(f"{kind}\t{f}\t{regs.get(f, '')}")
PY
  while IFS=$'\t' read -r kind f regs; do
    extra=()
    [ -z "$regs" ] || extra=(--regulations "$regs")
    step "ingest-$f" "$cnis" "${db[@]}" ingest source "$kind" "$d/$f" "${extra[@]}" "${q[@]}"
  done < "$out/sources.tsv"
  step track "$cnis" "${db[@]}" track --from "$a" --to "$b" --out "$out/results"
  step track-with-linkage "$cnis" "${db[@]}" track --from "$a" --to "$b" --link --out "$out/linked"
  echo
  echo "== $n pupils"
  awk -F'\t' '{printf "  %-24s %8.1f s %8.0f MiB\n", $1, $2, $3/1024; if ($1 != "track-with-linkage") {t+=$2; if ($3>m) m=$3}}
              END {printf "  %-24s %8.1f s %8.0f MiB (peak of any step; without linkage)\n", "total", t, m/1024}' "$log"
  echo "  leavers: $(($(wc -l < "$out/results/leavers.csv") - 1)); database $(du -h "$out/cnis.db" | cut -f1)"
  echo "  against the destinations the files make knowable ($rates rates):"
  echo "    by UPN:       $("$cnis" score "$d/truth.csv" "$out/results/leavers.csv" | head -1)"
  echo "    with linkage: $("$cnis" score "$d/truth.csv" "$out/linked/leavers.csv" | head -1)"
  "$cnis" score "$d/truth.csv" "$out/linked/leavers.csv" | tail -n +2 | sed 's/^/    /'
  echo "  national-run total (ingest + track with linkage):" \
    "$(awk -F'\t' '$1 ~ /^ingest/ || $1 == "track-with-linkage" {t+=$2} END {printf "%.1f s", t}' "$log")"
done
