#!/usr/bin/env bash
# Browser tests of the web client (tests/browser): playwright-core drives Debian's Chromium
# against the real `workroom` binary. Installs Chromium with apt-get when it is missing
# (never Playwright's own browser download), installs the pinned npm packages from
# package-lock.json, builds the server binary only when it is not built yet, and runs the
# tests with Node's built-in runner. A missing Chromium or binary fails; nothing is skipped.
#   bash .ci/browser.sh            # every test file
#   bash .ci/browser.sh chat       # the files whose name contains "chat"
set -euo pipefail
cd "$(dirname "$0")/.."

CHROMIUM="${WORKROOM_CHROMIUM:-/usr/bin/chromium}"
if [ ! -x "$CHROMIUM" ]; then
  if [ "$CHROMIUM" != /usr/bin/chromium ]; then
    echo "browser tests: WORKROOM_CHROMIUM=$CHROMIUM is not an executable" >&2
    exit 1
  fi
  echo "browser tests: installing Debian's chromium" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y --no-install-recommends chromium
fi
if [ ! -x "$CHROMIUM" ]; then
  echo "browser tests: no Chromium at $CHROMIUM after installing it" >&2
  exit 1
fi
"$CHROMIUM" --version

BIN="${WORKROOM_BIN:-target/debug/workroom}"
if [ ! -x "$BIN" ]; then
  cargo build --locked -p workroom-server --bin workroom
fi
export WORKROOM_BIN="$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")"

cd tests/browser
# Playwright must not try to fetch a browser of its own.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
npm ci --no-audit --no-fund
FILES=()
for f in tests/*.test.js; do
  if [ $# -eq 0 ] || [[ "$f" == *"$1"* ]]; then FILES+=("$f"); fi
done
if [ ${#FILES[@]} -eq 0 ]; then
  echo "browser tests: no test file matches $1" >&2
  exit 1
fi
# One file at a time (each starts its own server and browser; the machine has 2 cores).
node --test --test-concurrency=1 --test-timeout=180000 "${FILES[@]}"
