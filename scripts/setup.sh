#!/usr/bin/env bash
# Set up a development / CI machine for this project (Debian, run as root). Idempotent:
# steps whose result is already there are skipped, so running it again costs a few seconds.
#
#   - Debian packages, only those missing: nodejs + npm when `node` is absent; spin and gcc
#     (the Promela model checker and the compiler of its verifiers: models/room); postgresql
#     (initdb and pg_ctl for the tests' throwaway cluster: tests/pg.py)
#   - .venv (python3 -m venv) with the project installed editable with its test extras
#   - node_modules from package-lock.json (npm ci): Pyodide for the in-WebAssembly tests
#   - build/wheels: the wheels the verifier needs under Pyodide (scripts/fetch_wheels.py)
#   - web/*/public: the sample sites (web/generate.py; the room's MLS worker: scripts/build_room.py)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$PWD"
VENV="$ROOT/.venv"
export DEBIAN_FRONTEND=noninteractive

say() { printf '==> %s\n' "$*"; }

hash_of() { sha256sum "$@" | sha256sum | cut -d' ' -f1; }

# --- Debian packages -------------------------------------------------------------------
apt_missing=()
if ! command -v node >/dev/null 2>&1; then
  apt_missing+=(nodejs npm)
elif ! command -v npm >/dev/null 2>&1; then
  apt_missing+=(npm)
fi
if ! command -v python3 >/dev/null 2>&1; then
  apt_missing+=(python3 python3-venv)
elif [ ! -x "$VENV/bin/python" ] && ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
  apt_missing+=(python3-venv)
fi
# spin + gcc: the model checker of models/room (tests/unit/test_room_model.py)
if ! command -v spin >/dev/null 2>&1; then
  apt_missing+=(spin)
fi
if ! command -v gcc >/dev/null 2>&1; then
  apt_missing+=(gcc libc6-dev)
fi
# PostgreSQL (initdb, pg_ctl): the tests start a throwaway cluster for the transparency
# service's PostgreSQL store (tests/pg.py); the server is not started here
if ! command -v initdb >/dev/null 2>&1 && ! compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; then
  apt_missing+=(postgresql)
fi
if [ "${#apt_missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    say "ERROR: missing ${apt_missing[*]}; run this script as root (it uses apt-get)" >&2
    exit 1
  fi
  say "apt-get update"
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  say "apt-get install ${apt_missing[*]}"
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${apt_missing[@]}"
else
  say "system packages present (node $(node --version), npm $(npm --version), $(python3 --version), $(spin -V | head -1))"
fi

# --- Python virtual environment --------------------------------------------------------
if [ ! -x "$VENV/bin/python" ]; then
  say "creating $VENV with $(python3 --version)"
  python3 -m venv "$VENV"
fi
# Reinstall only when pyproject.toml changed since the last successful install.
pip_stamp="$VENV/.waict-setup-stamp"
pip_want="$(hash_of pyproject.toml)"
if [ "$(cat "$pip_stamp" 2>/dev/null || true)" != "$pip_want" ] || [ ! -x "$VENV/bin/waict" ]; then
  say "pip install -e '.[test]' (+ setuptools>=68, wheel: offline builds of the project wheel)"
  "$VENV/bin/python" -m pip install --disable-pip-version-check -q 'setuptools>=68' wheel
  "$VENV/bin/python" -m pip install --disable-pip-version-check -q -e '.[test]'
  printf '%s\n' "$pip_want" >"$pip_stamp"
else
  say "$VENV up to date with pyproject.toml"
fi

# --- npm packages (Pyodide) ------------------------------------------------------------
if [ -f package-lock.json ]; then
  npm_stamp="node_modules/.waict-setup-stamp"
  npm_want="$(hash_of package.json package-lock.json)"
  if [ "$(cat "$npm_stamp" 2>/dev/null || true)" != "$npm_want" ] \
    || [ ! -f node_modules/pyodide/pyodide.mjs ]; then
    say "npm ci"
    npm ci --no-audit --no-fund --loglevel=error
    printf '%s\n' "$npm_want" >"$npm_stamp"
  else
    say "node_modules up to date with package-lock.json"
  fi
else
  say "npm install (no package-lock.json yet)"
  npm install --no-audit --no-fund --loglevel=error
fi

# --- wheels for Pyodide ----------------------------------------------------------------
say "fetching / building the wheels for Pyodide (build/wheels)"
"$VENV/bin/python" scripts/fetch_wheels.py

# --- sample sites (web/*/public, web/*/tamper) from their one generator ----------------------
say "generating the sample sites' files (web/generate.py)"
"$VENV/bin/python" web/generate.py
# the room sample sites (issue 13): npm ci in web/room (ts-mls, esbuild: pinned exactly in
# web/room/package.json), then the MLS worker bundled into web/room*/public
say "building the room sample sites (scripts/build_room.py: ts-mls bundled by esbuild)"
"$VENV/bin/python" scripts/build_room.py

# --- Chromium and Playwright for the extension's end-to-end tests (tests/e2e) -----------
# Debian's chromium (never `playwright install`: no browser download host is reachable);
# the Python driver (playwright) comes from PyPI with the test extras.
if ! [ -x /usr/lib/chromium/chromium ] && ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ]; then
    say "ERROR: chromium is missing; run this script as root (it uses apt-get)" >&2
    exit 1
  else
    say "apt-get install chromium (browser end-to-end tests)"
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends chromium
  fi
else
  say "chromium present"
fi

# --- the extension, ready for "Load unpacked" ------------------------------------------------
say "building the extension (extension/dist)"
"$VENV/bin/python" scripts/build_extension.py

say "setup done"
