#!/usr/bin/env bash
# Demo (placeholder until the real one): set up, then check one example scenario with the CLI.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { printf '==> %s\n' "$*"; }

bash scripts/setup.sh

scenario=tests/vectors/scenarios/valid-enforce.json
say "waict check $scenario"
set +e
verdict="$(.venv/bin/waict check "$scenario")"
rc=$?
set -e
printf '%s\n' "$verdict"
if [ "$rc" -ne 0 ]; then
  say "waict check exited with status $rc"
  exit "$rc"
fi
navigation="$(printf '%s' "$verdict" | .venv/bin/python -c \
  'import json, sys; print(json.load(sys.stdin).get("navigation", "?"))' 2>/dev/null || echo '?')"
say "verdict: navigation=$navigation (expected: allow)"
