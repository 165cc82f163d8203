#!/usr/bin/env bash
# The demo (README): set up, then run the local WAICT ecosystem on loopback (transparency
# service, two witnesses, asset host, the sample sites of web/), publish every site, check
# each one with `waict verify` (the browser's own decision), then visit every site in Debian
# Chromium with the real extension (built into build/demo/extension with the demo's trust
# and preload list; headless without DISPLAY, else headed) and compare what each page shows
# with its expected.json (screenshots in build/demo/screenshots); then keep everything
# running until Ctrl-C. Extra arguments go to `waict demo`: --exit stops after the checks
# (exit status 1 if any site differs), --no-browser skips Chromium, --headless/--headed
# force the mode.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/setup.sh
exec .venv/bin/waict demo "$@"
