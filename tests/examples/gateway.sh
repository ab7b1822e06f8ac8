#!/usr/bin/env bash
# The store-and-forward gateway (examples/c/gateway.c) survives SIGKILL without losing a
# reading (registered with ctest as examples_gateway):
#   1. a throwaway Mosquitto on a free loopback port, and the sub example recording what
#      arrives on the gateway's topic;
#   2. gateway run A (file store, fsync) reads readings 1..10 from a FIFO; they arrive;
#   3. the broker is frozen (SIGSTOP), so nothing more is acknowledged; A stores readings
#      11..20 and is killed with SIGKILL (by its PID) while its input is still open;
#   4. the broker thaws; gateway run B, same store and client id (durability os), generates
#      readings 21..40 (--start 21 --count 20) and must report readings 11..20 as restored
#      publishes acknowledged ("restored N (was #ID): ok"), then exit 0;
#   5. every reading 1..40 reached the subscriber at least once (QoS 1: duplicates allowed,
#      no loss).
# Every wait is a poll with a deadline. Strict arguments are checked first.
#   tests/examples/gateway.sh <mosquitto binary> <directory holding the built examples>
# Exit 77 (skipped) when mosquitto is missing.
set -u
MOSQUITTO=${1:-/usr/sbin/mosquitto}
BIN=${2:?usage: gateway.sh MOSQUITTO EXAMPLE_DIR}
TOTAL=40

if [ ! -x "$MOSQUITTO" ]; then
  echo "skipped: no mosquitto at $MOSQUITTO" >&2
  exit 77
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/midge-gateway.XXXXXX")
broker_pid="" sub_pid="" gw_pid=""
cleanup() {
  { exec 3>&-; } 2>/dev/null
  for p in $gw_pid $sub_pid; do kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  if [ -n "$broker_pid" ]; then
    kill -CONT "$broker_pid" 2>/dev/null; kill "$broker_pid" 2>/dev/null; wait "$broker_pid" 2>/dev/null
  fi
  rm -rf "$dir"
}
trap cleanup EXIT

failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
die() {
  echo "FAIL: $*" >&2
  for f in a.out b.out sub.out mosquitto.log; do
    [ -f "$dir/$f" ] && { echo "--- $f" >&2; cat "$dir/$f" >&2; }
  done
  exit 1
}

# Waits until file $1 has a line matching $2 (up to 10 s).
wait_for() {
  for _ in $(seq 200); do grep -q -- "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done
  return 1
}
# The readings from $1 to $2 the subscriber has not received yet (sub prints
# "[message] TOPIC (QoS 1): PAYLOAD").
missing() {
  local i out=""
  for i in $(seq "$1" "$2"); do
    grep -q "^\[message\] midge/test/gw (QoS 1): $i\$" "$dir/sub.out" || out="$out $i"
  done
  echo "$out"
}
# Waits until the subscriber has every reading from $1 to $2 (up to 10 s).
wait_received() {
  for _ in $(seq 200); do [ -z "$(missing "$1" "$2")" ] && return 0; sleep 0.05; done
  return 1
}

# Strict arguments: bad values are errors (exit 2), before anything is opened.
"$BIN/gateway" --help > /dev/null || fail "gateway --help"
expect_refused() {  # $1: text expected on stderr; the rest: the arguments
  local want=$1; shift
  out=$("$BIN/gateway" "$@" 2>&1); rc=$?
  [ $rc = 2 ] && echo "$out" | grep -q -- "$want" || fail "gateway $*: exit $rc: $out"
}
expect_refused 'expected os or fsync, not "sometimes"' --store "$dir/x" --durability sometimes
expect_refused '--count: expected a number' --store "$dir/x" --count abc
expect_refused '--start: expected a number' --store "$dir/x" --count 1 --start 1x
expect_refused '--store PATH is required' --count 1
expect_refused 'unknown option' --store "$dir/x" --no-such-option 1
expect_refused '--topic a/#: ' --store "$dir/x" --topic 'a/#'
[ ! -e "$dir/x" ] || fail "a refused command line created the store"

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for attempt in 1 2 3 4 5 6 7 8; do
  port=$(( 20000 + (RANDOM * 32768 + RANDOM) % 40000 ))
  port_open "$port" && continue
  {
    echo "allow_anonymous true"
    echo "persistence false"
    echo "log_dest file $dir/mosquitto.log"
    echo "log_type all"
    [ "$(id -u)" = 0 ] && echo "user root"
    echo "listener $port 127.0.0.1"
  } > "$dir/mosquitto.conf"
  "$MOSQUITTO" -c "$dir/mosquitto.conf" > "$dir/mosquitto.out" 2>&1 &
  broker_pid=$!
  for _ in $(seq 100); do
    kill -0 "$broker_pid" 2>/dev/null || break
    port_open "$port" && break
    sleep 0.05
  done
  if kill -0 "$broker_pid" 2>/dev/null && port_open "$port"; then break; fi
  wait "$broker_pid" 2>/dev/null; broker_pid=""
done
[ -n "$broker_pid" ] || { cat "$dir/mosquitto.out" >&2; die "could not start mosquitto"; }
URL="mqtt://127.0.0.1:$port"
echo "mosquitto (pid $broker_pid) on $URL"

"$BIN/sub" --broker "$URL" --topic midge/test/gw --qos 1 --count 1000000 --seconds 60 \
  > "$dir/sub.out" 2>&1 &
sub_pid=$!
wait_for "$dir/sub.out" "subscribed to midge/test/gw" || die "sub did not subscribe"

GW=(--broker "$URL" --store "$dir/store" --client-id midge-test-gw --topic midge/test/gw
    --session-expiry 600 --seconds 10)
mkdir "$dir/store"

# Run A: readings from a FIFO the script holds open.
# Opened read-write first (Linux: no blocking), so neither side's open waits for the other,
# whether or not the gateway starts.
mkfifo "$dir/in"
exec 3<> "$dir/in"
"$BIN/gateway" "${GW[@]}" --durability fsync < "$dir/in" > "$dir/a.out" 2>&1 &
gw_pid=$!
for i in $(seq 1 10); do echo "$i" >&3; done
wait_for "$dir/a.out" "^stored 10 " || die "run A did not store reading 10"
wait_received 1 10 || die "readings 1..10 did not arrive: missing$(missing 1 10)"

# Freeze the broker: readings 11..20 are stored, never acknowledged; then SIGKILL.
kill -STOP "$broker_pid"
for i in $(seq 11 20); do echo "$i" >&3; done
wait_for "$dir/a.out" "^stored 20 " || die "run A did not store reading 20"
kill -KILL "$gw_pid"
wait "$gw_pid" 2>/dev/null; gw_pid=""
exec 3>&-
grep -q "^acknowledged" "$dir/a.out" || fail "run A saw no acknowledgement before the freeze"
kill -CONT "$broker_pid"
echo "run A: killed after storing 20 readings (11..20 unacknowledged)"

# Run B: the same store; it restores 11..20 (at least) and generates 21..40.
"$BIN/gateway" "${GW[@]}" --durability os --start 21 --count $((TOTAL - 20)) > "$dir/b.out" 2>&1
rc=$?
cat "$dir/b.out"
[ $rc = 0 ] || fail "run B exited $rc"
grep -q "^connected to .*session present: yes" "$dir/b.out" || fail "run B: the broker kept no session"
for i in $(seq 11 20); do
  grep -q "^restored $i (was #[0-9]*): ok\$" "$dir/b.out" || fail "run B did not report reading $i restored and acknowledged"
done

wait_received 1 "$TOTAL" || fail "readings lost: missing$(missing 1 "$TOTAL")"
echo "subscriber: $(grep -c '^\[message\]' "$dir/sub.out") messages for $TOTAL readings (QoS 1: duplicates allowed)"

if [ "$failures" != 0 ]; then
  die "$failures check(s) failed"
fi
echo "examples_gateway: all passed"
