#!/usr/bin/env bash
# Make sure a real NATS server (Debian's nats-server package) is installed, installing it
# when missing. The multi-node tests start their own nats-server processes from it (each
# cluster its own, on a free port, so that a test can stop and restart it), so nothing is
# started here. Prints the environment the test harness reads; the caller evals it.
set -euo pipefail
find_bin() {
  command -v nats-server 2>/dev/null && return 0
  for candidate in /usr/sbin/nats-server /usr/bin/nats-server; do
    if [ -x "$candidate" ]; then echo "$candidate"; return 0; fi
  done
  return 1
}
if ! BIN="$(find_bin)"; then
  # The package lists may be stale or absent on a fresh machine: update once and retry.
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nats-server >/dev/null 2>&1; then
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nats-server >/dev/null
  fi
  BIN="$(find_bin)"
fi
echo "nats-server: $BIN ($("$BIN" --version 2>&1 | head -n 1))" >&2
echo "export WORKROOM_TEST_NATS_BIN=$BIN"
