#!/usr/bin/env bash
# The project's test command (README): set-up, lint, format check, type check, all tests.
# Every check runs even when an earlier one fails; the exit status is non-zero if any failed.
# Extra arguments go to pytest (e.g. `bash scripts/test.sh -k mpt`).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { printf '==> %s\n' "$*"; }

bash scripts/setup.sh

failed=()
run() {
  say "$*"
  if "$@"; then
    return 0
  else
    local rc=$?
    say "FAILED (exit $rc): $*"
    failed+=("$*")
  fi
}

run .venv/bin/ruff check .
run .venv/bin/ruff format --check .
# Type check (strict config in pyproject.toml).
run .venv/bin/mypy -p verifier -p waict

say ".venv/bin/pytest -q tests $*"
set +e
.venv/bin/pytest -q tests "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
  say "FAILED: pytest collected no tests (exit 5)"
  failed+=("pytest (no tests)")
elif [ "$rc" -ne 0 ]; then
  say "FAILED (exit $rc): pytest"
  failed+=("pytest")
fi

if [ "${#failed[@]}" -gt 0 ]; then
  say "${#failed[@]} check(s) failed:"
  printf '    %s\n' "${failed[@]}"
  exit 1
fi
say "all checks passed"
