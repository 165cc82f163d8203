#!/usr/bin/env bash
# The demo (README): set up, then run the local WAICT ecosystem on loopback (transparency
# service, two witnesses, asset host, the sample sites of web/), publish every site, check
# each one with `waict verify` (the browser's own decision) and keep everything running
# until Ctrl-C. Extra arguments go to `waict demo` (e.g. --exit to stop after the checks).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/setup.sh
exec .venv/bin/waict demo "$@"
