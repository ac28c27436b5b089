#!/usr/bin/env bash
# Start a real S3-compatible server (s3s-fs: verifies SigV4 signatures) on loopback,
# building it from the crate registry when it is not cached yet (about 5 minutes).
# Prints the environment the test harness reads; the caller evals it.
set -euo pipefail
ROOT="${WORKROOM_CI_TOOLS:-$HOME/.cache/workroom-ci}"
BIN="$ROOT/s3s/bin/s3s-fs"
if [ ! -x "$BIN" ]; then
  mkdir -p "$ROOT"
  cargo install s3s-fs --version 0.14.1 --features binary --locked --root "$ROOT/s3s" >&2
fi
DATA="$(mktemp -d)"
# A free port: the first one from 9100 nothing answers on.
PORT="${WORKROOM_CI_S3_PORT:-9100}"
while (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; do PORT=$((PORT + 1)); done
ACCESS="ci-access-key"
SECRET="ci-secret-key-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')"
nohup "$BIN" --host 127.0.0.1 --port "$PORT" --access-key "$ACCESS" --secret-key "$SECRET" \
  "$DATA" >"$DATA.log" 2>&1 &
PID=$!
for _ in $(seq 1 50); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then break; fi
  sleep 0.2
done
# Ours must be the one answering (not something that took the port first).
if ! kill -0 "$PID" 2>/dev/null || ! (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
  cat "$DATA.log" >&2
  exit 1
fi
echo "s3s-fs is up on 127.0.0.1:$PORT (data in $DATA)" >&2
echo "export WORKROOM_TEST_FILES=s3"
echo "export WORKROOM_TEST_S3_ENDPOINT=http://127.0.0.1:$PORT"
echo "export WORKROOM_TEST_S3_ACCESS_KEY=$ACCESS"
echo "export WORKROOM_TEST_S3_SECRET_KEY=$SECRET"
# The fault suite runs s3s-fs processes of its own, which it stops and hangs.
echo "export WORKROOM_FAULT_S3S_BIN=$BIN"
