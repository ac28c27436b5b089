#!/usr/bin/env bash
# One `bench` run against N Workroom nodes on PostgreSQL, with or without the NATS bus
# (docs/benchmarks.md, "Many nodes (issue 17)"). Everything is fresh per run: database,
# data dirs, NATS server. Usage, from the workspace root after a release build:
#
#   tests/bench/cluster.sh NODES on|off BENCH-ARGS…
#   tests/bench/cluster.sh 3 on --tag f1 messages --rooms 200 --members 4 --duration 10
#
# BENCH-ARGS follow `bench`'s own `--addr … --data-dir … --server-pid … --bus-pid …`, which
# this script supplies (node k listens on 127.0.0.1:PORT+k, its metrics on PORT+10+k). It
# prints bench's report, then per-run deltas of the nodes' Prometheus counters (summed over
# nodes), CPU over the whole run (setup included) of the nodes, nats-server and this
# database's PostgreSQL backends, the backends' CPU while bench sends, and the warnings and
# errors in the nodes' logs.
#
# Environment: BIN (./target/release), BASE (/tmp/wr-bench17: data dirs and logs, removed
# first), DB (workroom_bench17: dropped and created; the name stays clear of the `wr_%`
# databases .ci/postgres.sh drops), PG (postgres://workroom:workroom@127.0.0.1:5432),
# NATS_BIN (nats-server on the PATH, else /usr/sbin/nats-server; `.ci/nats.sh` installs it),
# NATS_PORT (4299; monitoring on the next port), PORT (9470), COMMITTERS (4, as
# config/production.example.toml), KEEP=1 leaves everything running.
# Needs PostgreSQL up (`bash .ci/postgres.sh`).
set -euo pipefail
NODES=${1:?usage: $0 NODES on|off BENCH-ARGS…}
BUS=${2:?usage: $0 NODES on|off BENCH-ARGS…}
shift 2
BIN=${BIN:-./target/release}
BASE=${BASE:-/tmp/wr-bench17}
DB=${DB:-workroom_bench17}
PG=${PG:-postgres://workroom:workroom@127.0.0.1:5432}
NATS_BIN=${NATS_BIN:-$(command -v nats-server || echo /usr/sbin/nats-server)}
NATS_PORT=${NATS_PORT:-4299}
COMMITTERS=${COMMITTERS:-4}
PORT=${PORT:-9470}
ulimit -n 20000

PIDS=()
NATS_PID=
cleanup() {
  [ "${KEEP:-0}" = 1 ] && return
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ -n "$NATS_PID" ]; then kill "$NATS_PID" 2>/dev/null || true; wait "$NATS_PID" 2>/dev/null || true; fi
  psql -qX "$PG/postgres" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
}
trap cleanup EXIT

# User + system CPU seconds of the given pids (USER_HZ = 100).
cpu() { local t=0 pid; for pid in "$@"; do
  t=$((t + $(sed 's/.*) //' "/proc/$pid/stat" | awk '{print $12 + $13}'))); done
  awk -v t="$t" 'BEGIN {printf "%.2f", t / 100}'; }
# "pid ticks" of every PostgreSQL backend connected to $DB.
pg_ticks() { local pid
  for pid in $(psql -qXtA "$PG/postgres" -c "SELECT pid FROM pg_stat_activity WHERE datname = '$DB'"); do
    if [ -r "/proc/$pid/stat" ]; then echo "$pid $(sed 's/.*) //' "/proc/$pid/stat" | awk '{print $12 + $13}')"; fi
  done; }
# The sum over nodes of one counter (all its label sets).
counter() { local k
  for k in $(seq 1 "$NODES"); do curl -s "http://127.0.0.1:$((PORT + 10 + k))/metrics"; done \
    | awk -v n="$1" '$1 == n || index($1, n "{") == 1 {s += $2} END {printf "%.3f", s}'; }
COUNTERS="workroom_messages_committed_total workroom_bus_signals_sent_total workroom_bus_signals_received_total
workroom_bus_relayed_events_total workroom_bus_signals_dropped_total workroom_bus_slow_consumer_total
workroom_bus_signals_rejected_total workroom_bus_sweep_rooms_behind_total
workroom_commit_seconds_count workroom_commit_seconds_sum workroom_commit_batch_size_sum
workroom_bus_relay_seconds_count workroom_bus_relay_seconds_sum"

rm -rf "$BASE"; mkdir -p "$BASE"
psql -qX "$PG/postgres" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB" >/dev/null
# The secrets every node shares (a release step, run once per cluster).
"$BIN/workroom" secrets init --dir "$BASE/secrets" >/dev/null
if [ "$BUS" = on ]; then
  "$NATS_BIN" -a 127.0.0.1 -p "$NATS_PORT" -m $((NATS_PORT + 1)) >"$BASE/nats.log" 2>&1 & NATS_PID=$!
fi

ADDRS=
for k in $(seq 1 "$NODES"); do
  mkdir -p "$BASE/n$k"
  {
    echo "listen = \"127.0.0.1:$((PORT + k))\""
    echo "metrics_listen = \"127.0.0.1:$((PORT + 10 + k))\""
    echo "data_dir = \"$BASE/n$k\""
    echo "database_url = \"$PG/$DB\""
    # The production example's committers (the default, 1, is SQLite's); the default pool
    # (16), so that three nodes stay well inside PostgreSQL's 100 connections.
    echo "[database]"; echo "committers = $COMMITTERS"
    # The bench connects every member from one address (see the top of benchmarks.md).
    echo "[connections]"; echo "new_per_address_per_sec = 100000"; echo "max_per_address = 20000"
    echo "[keys]"; echo "master_key_file = \"$BASE/secrets/master.keys\""
    echo "[audit]"; echo "signing_key_file = \"$BASE/secrets/audit-ed25519.pk8\""
    echo "[legal]"; echo "signing_key_file = \"$BASE/secrets/legal-ed25519.pk8\""
    if [ "$BUS" = on ]; then
      echo "[bus]"; echo "url = \"nats://127.0.0.1:$NATS_PORT\""; echo "node_id = \"n$k\""
      echo "subject_prefix = \"bench17\""
    fi
  } >"$BASE/n$k.toml"
  if [ "$k" -gt 1 ]; then
    # Node 1 made the dev TLS certificate and the dev token key: every node serves and
    # checks the same ones (as TestServer::start_sibling copies them).
    mkdir -p "$BASE/n$k/tls" "$BASE/n$k/keys"
    cp "$BASE/n1/tls/cert.pem" "$BASE/n1/tls/key.pem" "$BASE/n$k/tls/"
    cp "$BASE/n1/keys/dev-jwt.key" "$BASE/n$k/keys/"
  fi
  "$BIN/workroom" serve --config "$BASE/n$k.toml" >"$BASE/n$k.log" 2>&1 & PIDS+=($!)
  # Ready (node 1 also ran the migrations by then), and with a bus, the bus up.
  want='"ready":true'; [ "$BUS" = on ] && want='"bus":"up"'
  for _ in $(seq 1 120); do
    body=$(curl -sk "https://127.0.0.1:$((PORT + k))/readyz" || true)
    if grep -q '"ready":true' <<<"$body" && grep -q "$want" <<<"$body"; then break; fi
    sleep 0.5
  done
  grep -q "$want" <<<"$body" || { echo "node $k not ready: $body" >&2; tail -20 "$BASE/n$k.log" >&2; exit 1; }
  ADDRS+="${ADDRS:+,}127.0.0.1:$((PORT + k))"
done
# Let every node hear the others' heartbeats (cluster size for the shared rate limits).
[ "$BUS" = on ] && sleep 3
SERVER_PIDS=$(IFS=,; echo "${PIDS[*]}")

# NATS's own counts of messages and bytes in (published) and out (delivered).
varz() { [ -n "$NATS_PID" ] && curl -s "http://127.0.0.1:$((NATS_PORT + 1))/varz" \
  | python3 -c 'import json, sys; v = json.load(sys.stdin); print(v["in_msgs"], v["out_msgs"], v["in_bytes"], v["out_bytes"])'; }
declare -A BEFORE
for c in $COUNTERS; do BEFORE[$c]=$(counter "$c"); done
NODE_CPU0=$(cpu "${PIDS[@]}")
NATS_CPU0=0; [ -n "$NATS_PID" ] && NATS_CPU0=$(cpu "$NATS_PID")
read -r IN0 OUT0 INB0 OUTB0 < <(varz || echo 0 0 0 0)
"$BIN/bench" --addr "$ADDRS" --data-dir "$BASE/n1" --server-pid "$SERVER_PIDS" \
  ${NATS_PID:+--bus-pid "$NATS_PID"} "$@" >"$BASE/bench.out" 2>"$BASE/bench.err" & BENCH=$!
# The sending window: bench sends for --duration seconds from 2 s after it says it is
# connected. The database's share of the work is read over the same window.
DURATION=$(grep -o -- '--duration [0-9]*' <<<"$*" | awk '{print $2}')
while kill -0 "$BENCH" 2>/dev/null && ! grep -q '^connected;' "$BASE/bench.err"; do sleep 0.1; done
sleep 2; pg_ticks >"$BASE/pg0"; sleep "${DURATION:-10}"; pg_ticks >"$BASE/pg1"
wait "$BENCH" || { cat "$BASE/bench.err" >&2; exit 1; }
cat "$BASE/bench.out"
NODE_CPU1=$(cpu "${PIDS[@]}")
NATS_CPU1=0; [ -n "$NATS_PID" ] && NATS_CPU1=$(cpu "$NATS_PID")

echo "--- $NODES node(s), bus $BUS: counters over the run, summed over nodes"
declare -A D
for c in $COUNTERS; do
  D[$c]=$(awk -v a="${BEFORE[$c]}" -v b="$(counter "$c")" 'BEGIN {printf "%.10g", b - a}')
  echo "$c ${D[$c]}"
done
awk -v n="${D[workroom_commit_seconds_count]}" -v s="${D[workroom_commit_seconds_sum]}" \
  -v e="${D[workroom_commit_batch_size_sum]}" -v r="${D[workroom_bus_relay_seconds_count]}" \
  -v rs="${D[workroom_bus_relay_seconds_sum]}" 'BEGIN {
  if (n > 0) printf "batch commits: %d, %.1f events and %.1f ms each on average\n", n, e / n, 1000 * s / n
  if (r > 0) printf "relay reads: %d, %.1f ms each on average\n", r, 1000 * rs / r }'
if [ -n "$NATS_PID" ]; then
  read -r IN1 OUT1 INB1 OUTB1 < <(varz)
  echo "nats-server: $((IN1 - IN0)) messages in ($((INB1 - INB0)) bytes), $((OUT1 - OUT0)) out ($((OUTB1 - OUTB0)) bytes)"
fi
BACKENDS=$(psql -qXtA "$PG/postgres" -c "SELECT pid FROM pg_stat_activity WHERE datname = '$DB'" | tr '\n' ' ')
echo "CPU over the whole run (s): nodes $(awk -v a="$NODE_CPU0" -v b="$NODE_CPU1" 'BEGIN {printf "%.2f", b - a}')," \
  "nats-server $(awk -v a="$NATS_CPU0" -v b="$NATS_CPU1" 'BEGIN {printf "%.2f", b - a}')," \
  "PostgreSQL backends of $DB since they connected $(cpu $BACKENDS) ($(wc -w <<<"$BACKENDS") backends)"
ACKED=$(awk '/^acked messages\/s:/ {print $3}' "$BASE/bench.out")
awk -v acked="$ACKED" -v secs="${DURATION:-10}" 'NR == FNR {before[$1] = $2; next}
  {used += $2 - ($1 in before ? before[$1] : 0)}
  END {printf "PostgreSQL backends of this database while sending: %.2f s, %.1f µs per acked message\n",
    used / 100, used / 100 * 1e6 / (acked * secs)}' "$BASE/pg0" "$BASE/pg1"
echo "log lines at WARN or ERROR per node (besides the dev key's start-up warning), by kind:"
for k in $(seq 1 "$NODES"); do
  sed 's/\x1b\[[0-9;]*m//g; s/^[0-9TZ:.-]* *//' "$BASE/n$k.log" | grep 'WARN\|ERROR' | grep -v 'auth.dev_key is on' \
    | sed -E 's/ (db\.statement|rows_affected|rows_returned|elapsed)=.*//' | sort | uniq -c | sort -rn | head -5 \
    | sed "s/^/  n$k: /" || true
  longest=$(grep -o 'elapsed_secs=[0-9.]*' "$BASE/n$k.log" | cut -d= -f2 | sort -n | tail -1)
  if [ -n "$longest" ]; then echo "  n$k: longest slow statement ${longest} s"; fi
done
