#!/usr/bin/env bash
# Runs the example programs end to end against a throwaway Mosquitto on a free loopback
# port (registered with ctest as examples_run).
#   tests/examples/run.sh <mosquitto binary> <directory holding the built examples>
# Exit 77 (skipped) when mosquitto is missing.
set -u
MOSQUITTO=${1:-/usr/sbin/mosquitto}
BIN=${2:?usage: run.sh MOSQUITTO EXAMPLE_DIR}

if [ ! -x "$MOSQUITTO" ]; then
  echo "skipped: no mosquitto at $MOSQUITTO" >&2
  exit 77
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/midge-examples.XXXXXX")
broker_pid=""
cleanup() {
  if [ -n "$broker_pid" ]; then kill "$broker_pid" 2>/dev/null; wait "$broker_pid" 2>/dev/null; fi
  rm -rf "$dir"
}
trap cleanup EXIT

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Certificates for a TLS listener beside the plain one: a CA and a server certificate for
# 127.0.0.1 it signed.
( cd "$dir" &&
  ec="-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes" &&
  openssl req -x509 $ec -keyout ca.key -out ca.pem -days 2 -subj /CN=examples-ca &&
  printf 'subjectAltName=IP:127.0.0.1\n' > server.ext &&
  openssl req $ec -keyout server.key -out server.csr -subj /CN=127.0.0.1 &&
  openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
    -out server.pem -days 2 -extfile server.ext ) > "$dir/openssl.log" 2>&1 ||
  { echo "openssl failed" >&2; cat "$dir/openssl.log" >&2; exit 1; }

# Start Mosquitto on a free port (and the next one for TLS): pick one, retry if another
# process took it meanwhile.
for attempt in 1 2 3 4 5 6 7 8; do
  port=$(( 20000 + (RANDOM * 32768 + RANDOM) % 40000 ))
  tls_port=$(( port + 1 ))
  port_open "$port" && continue
  port_open "$tls_port" && continue
  {
    echo "per_listener_settings false"
    echo "allow_anonymous true"
    echo "persistence false"
    echo "log_dest file $dir/mosquitto.log"
    [ "$(id -u)" = 0 ] && echo "user root"
    echo "listener $port 127.0.0.1"
    echo "listener $tls_port 127.0.0.1"
    echo "cafile $dir/ca.pem"
    echo "certfile $dir/server.pem"
    echo "keyfile $dir/server.key"
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
[ -n "$broker_pid" ] || { echo "could not start mosquitto" >&2; cat "$dir/mosquitto.out" >&2; exit 1; }
URL="mqtt://127.0.0.1:$port"
echo "mosquitto (pid $broker_pid) on $URL"

failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

# Waits until file $1 contains $2 (up to 5 s).
wait_for() {
  for _ in $(seq 100); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done
  return 1
}

# --help and bad options
for prog in pub sub sub_poll sub_fd request_response last_will demo pubsub_cpp; do
  "$BIN/$prog" --help > /dev/null || fail "$prog --help"
  "$BIN/$prog" --no-such-option > /dev/null 2>&1; [ $? = 2 ] || fail "$prog: a bad option should exit 2"
done

# pub -> sub_poll (pull interface), QoS 2
"$BIN/sub_poll" --broker "$URL" --topic 'midge/test/poll/#' --qos 2 --count 3 --seconds 10 > "$dir/sub_poll.out" 2>&1 &
p=$!
wait_for "$dir/sub_poll.out" subscribed || fail "sub_poll did not subscribe"
"$BIN/pub" --broker "$URL" --topic midge/test/poll/a --qos 2 --count 3 --message hi || fail "pub"
wait "$p" || fail "sub_poll exited $?"
cat "$dir/sub_poll.out"
[ "$(grep -c '^message' "$dir/sub_poll.out")" = 3 ] || fail "sub_poll: expected 3 messages"

# pub -> sub_fd (event fd in a poll() loop, no callbacks), QoS 1
"$BIN/sub_fd" --broker "$URL" --topic 'midge/test/fd/#' --qos 1 --count 3 --seconds 10 > "$dir/sub_fd.out" 2>&1 &
p=$!
wait_for "$dir/sub_fd.out" subscribed || fail "sub_fd did not subscribe"
"$BIN/pub" --broker "$URL" --topic midge/test/fd/x --qos 1 --count 3 --message fd || fail "pub to sub_fd"
wait "$p" || fail "sub_fd exited $?"
cat "$dir/sub_fd.out"
[ "$(grep -c '^message' "$dir/sub_fd.out")" = 3 ] || fail "sub_fd: expected 3 messages"

# last_will --crash -> sub (callbacks) gets "online" then the will "offline"
"$BIN/sub" --broker "$URL" --topic 'midge/test/status/#' --count 2 --seconds 10 > "$dir/sub.out" 2>&1 &
p=$!
wait_for "$dir/sub.out" subscribed || fail "sub did not subscribe"
"$BIN/last_will" --broker "$URL" --topic midge/test/status/gw --seconds 0 --crash --no-retain || fail "last_will --crash"
wait "$p" || fail "sub exited $?"
cat "$dir/sub.out"
grep -q 'midge/test/status/gw (QoS 1): offline' "$dir/sub.out" || fail "sub: no will received"

# a clean last_will: "online", "offline" published by the program, no will
"$BIN/sub" --broker "$URL" --topic 'midge/test/status2/#' --count 3 --seconds 2 > "$dir/sub2.out" 2>&1 &
p=$!
wait_for "$dir/sub2.out" subscribed || fail "sub did not subscribe"
"$BIN/last_will" --broker "$URL" --topic midge/test/status2/gw --seconds 0 --no-retain || fail "last_will"
wait "$p"; [ $? = 1 ] || fail "sub should have seen only 2 messages"
[ "$(grep -c '^\[message\]' "$dir/sub2.out")" = 2 ] || { cat "$dir/sub2.out"; fail "clean last_will: expected online + offline only"; }

"$BIN/request_response" --broker "$URL" --count 2 || fail "request_response"
"$BIN/pubsub_cpp" --broker "$URL" || fail "pubsub_cpp"
"$BIN/demo" --broker "$URL" > "$dir/demo.out" 2>&1 || { cat "$dir/demo.out"; fail "demo"; }
grep -q "All 7 steps passed" "$dir/demo.out" || fail "demo transcript"

# TLS: sub and pub with --cafile against the TLS listener.
TLS_URL="mqtts://127.0.0.1:$tls_port"
"$BIN/sub" --broker "$TLS_URL" --cafile "$dir/ca.pem" --topic midge/test/tls --count 1 --seconds 10 > "$dir/tls.out" 2>&1 &
p=$!
wait_for "$dir/tls.out" subscribed || fail "sub over TLS did not subscribe"
"$BIN/pub" --broker "$TLS_URL" --cafile "$dir/ca.pem" --topic midge/test/tls --message secret > /dev/null || fail "pub over TLS"
wait "$p" || fail "sub over TLS exited $?"
grep -q 'midge/test/tls .*secret' "$dir/tls.out" || { cat "$dir/tls.out"; fail "sub over TLS: no message"; }
"$BIN/pubsub_cpp" --broker "$TLS_URL" --cafile "$dir/ca.pem" > "$dir/cpp-tls.out" 2>&1 ||
  { cat "$dir/cpp-tls.out"; fail "pubsub_cpp over TLS (midge::Tls)"; }
"$BIN/pub" --broker "$TLS_URL" --topic midge/test/tls --message x > "$dir/tls-refused.out" 2>&1
[ $? = 1 ] && grep -q "unknown CA\|certificate" "$dir/tls-refused.out" ||
  { cat "$dir/tls-refused.out"; fail "pub over TLS without --cafile should be refused in words"; }

# Bad values are refused before anything connects (the broker URL below has nothing
# listening: a connect attempt would print a connection error instead).
for prog in pub sub sub_poll sub_fd request_response last_will; do
  out=$("$BIN/$prog" --broker "mqtt://127.0.0.1:1" --qos abc 2>&1); rc=$?
  [ $rc = 2 ] && echo "$out" | grep -q -- '--qos: expected a number from 0 to 2, not "abc"' ||
    fail "$prog --qos abc: exit $rc: $out"
done
for prog in pub request_response last_will; do
  out=$("$BIN/$prog" --broker "mqtt://127.0.0.1:1" --topic 'a/#' 2>&1); rc=$?
  [ $rc = 2 ] && echo "$out" | grep -q -- "--topic a/#: " && ! echo "$out" | grep -qi connect ||
    fail "$prog --topic a/#: exit $rc: $out"
done
for prog in sub sub_poll sub_fd; do
  out=$("$BIN/$prog" --broker "mqtt://127.0.0.1:1" --topic 'a/#/b' 2>&1); rc=$?
  [ $rc = 2 ] && echo "$out" | grep -q -- "--topic a/#/b: " && ! echo "$out" | grep -qi connect ||
    fail "$prog --topic a/#/b: exit $rc: $out"
done
for prog in sub_poll sub_fd; do
  "$BIN/$prog" --broker "mqtt://127.0.0.1:1" --topic a --topic b > /dev/null 2>&1
  [ $? = 2 ] || fail "$prog: a second --topic should be refused, not replace the first"
done
# sub takes several --topic and receives from each.
"$BIN/sub" --broker "$URL" --topic midge/test/multi/a --topic midge/test/multi/b --count 2 --seconds 10 > "$dir/multi.out" 2>&1 &
p=$!
wait_for "$dir/multi.out" "subscribed to midge/test/multi/b" || fail "sub did not subscribe to both"
"$BIN/pub" --broker "$URL" --topic midge/test/multi/a --message one > /dev/null || fail "pub a"
"$BIN/pub" --broker "$URL" --topic midge/test/multi/b --message two > /dev/null || fail "pub b"
wait "$p" || fail "sub with two --topic exited $?"
grep -q 'midge/test/multi/a .*one' "$dir/multi.out" && grep -q 'midge/test/multi/b .*two' "$dir/multi.out" ||
  { cat "$dir/multi.out"; fail "sub: both filters"; }

# No broker: a clear failure, exit 1.
"$BIN/pub" --broker "mqtt://127.0.0.1:1" > /dev/null 2>&1; [ $? = 1 ] || fail "pub without a broker should exit 1"

if [ "$failures" != 0 ]; then
  echo "--- mosquitto log" >&2; cat "$dir/mosquitto.log" >&2
  exit 1
fi
echo "examples: all passed"
