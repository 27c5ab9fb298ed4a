#!/usr/bin/env bash
# API fuzz test: schemathesis against the register service's OpenAPI
# document, once per role, on a demo register. See fuzz.py for what it does.
#
#   CNIS_BIN=target/release/cnis tests/api-fuzz/run.sh
#
# `cargo test -p cnis-cli --test api_fuzz` runs this with the binary it built.
# Installs the pinned requirements.txt from PyPI into target/api-fuzz-venv,
# again only when requirements.txt (or the Python) changes.
# API_FUZZ_MAX_EXAMPLES and API_FUZZ_SEED override the defaults in fuzz.py.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
[ -n "${CNIS_BIN:-}" ] || { echo "set CNIS_BIN to the cnis binary (cargo build --release -p cnis-cli)" >&2; exit 2; }
[ -x "$CNIS_BIN" ] || { echo "CNIS_BIN=$CNIS_BIN is not an executable file" >&2; exit 2; }

python=${PYTHON:-python3}
venv=$root/target/api-fuzz-venv
want=$( { cat "$here/requirements.txt"; "$python" -c 'import sys; print(sys.version)'; } | sha256sum | cut -d' ' -f1)
have=$(cat "$venv/.requirements.sha256" 2>/dev/null || true)
if [ ! -x "$venv/bin/python" ] || [ "$want" != "$have" ]; then
  echo "== installing tests/api-fuzz/requirements.txt into $venv"
  rm -rf "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
    -r "$here/requirements.txt"
  echo "$want" > "$venv/.requirements.sha256"
fi

export CNIS_BIN
exec "$venv/bin/python" "$here/fuzz.py"
