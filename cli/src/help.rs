//! `--help` texts.

use crate::args::Mode;

pub fn name(mode: Mode) -> &'static str {
    match mode {
        Mode::Pub => "pub",
        Mode::Sub => "sub",
        Mode::Rr => "rr",
        Mode::Bench => "bench",
    }
}

pub fn for_mode(mode: Mode) -> &'static str {
    match mode {
        Mode::Pub => PUB,
        Mode::Sub => SUB,
        Mode::Rr => RR,
        Mode::Bench => BENCH,
    }
}

pub const MAIN: &str = "\
midge: an MQTT 5 command line that accepts mosquitto_pub/mosquitto_sub's options

usage: midge pub   -t TOPIC {-m MSG | -f FILE | -l | -s | -n} [options]
       midge sub   -t FILTER... [options]
       midge rr    -t TOPIC -e RESPONSE-TOPIC {-m MSG | -f FILE | -s | -n} [options]
       midge bench [options]
       midge {pub|sub|rr|bench} --help

-h is the broker host, as in mosquitto; help is --help.
";

const CONNECTION: &str = "\
connection:
  -h, --host HOST        broker host (default localhost)
  -p, --port PORT        broker port (default 1883)
      --unix PATH        connect to a Unix socket instead
  -L, --url URL          mqtt://[user[:password]@]host[:port]/topic
  -i, --id ID            client identifier (default: assigned by the broker)
  -I, --id-prefix P      client identifier P followed by the process id
  -u, --username USER    -P, --pw PASSWORD
  -k, --keepalive SECS   keep alive (default 60)
  -c                     keep the session (no Clean Start); needs -i; with no -x
                         the session lasts until the broker drops it
  -x SECS                session expiry interval
  -V 5 | 311             protocol version (default 5; 311 is MQTT 3.1.1)
  -D CMD NAME VALUE      an MQTT 5 property, as mosquitto: CMD is connect, publish,
                         subscribe, unsubscribe, disconnect or will; e.g.
                         -D publish user-property KEY VALUE, -D connect session-expiry-interval 60
  --will-topic T  --will-payload P  --will-qos Q  --will-retain
  -d, --debug            log the client's protocol steps to stderr
  TLS (mqtts://, port 8883 by default): --cafile F, --capath D, --cert F, --key F,
                         --tls-version tlsv1.2|tlsv1.3, --tls-alpn P, --tls-use-os-certs,
                         --insecure (no verification at all: for tests), -L mqtts://...
";

pub const EXIT: &str = "\
exit status:
  0 ok                     5 the server refused a publish or subscription
  1 usage error            6 timed out (-W, rr's reply)
  2 connection refused     7 connection lost after connecting
    (credentials, ACL...)  8 not supported: -V 31, PSK, enhanced auth
  3 server unreachable     9 a file or stdin could not be read
  4 not an MQTT server    10 TLS: certificate not accepted, or unusable TLS options
";

const OUTPUT: &str = "\
output (one message each, then a newline unless -N):
  (default)              the payload
  -v                     topic, a space, the payload
  -F FORMAT              mosquitto_sub's format: %t topic, %p payload, %q QoS, %r retain,
                         %l length, %m packet id, %x/%X hex payload, %P user properties,
                         %C content type, %D correlation data, %E message expiry,
                         %F payload format, %R response topic, %S subscription ids,
                         %I ISO 8601 time, %U Unix time, %j/%J JSON, @X strftime,
                         \\n \\t \\0 \\e \\\\ escapes; flags - 0, width and .precision
  --json                 one JSON object per message with every property (binary
                         payload and correlation data as base64, said by *_encoding)
  -N                     no newline after each message
";

pub const PUB: &str = "\
usage: midge pub -t TOPIC {-m MSG | -f FILE | -l | -s | -n} [options]

Publishes a message, like mosquitto_pub.

message:
  -t, --topic TOPIC      topic to publish to
  -m, --message MSG      the message      -f, --file FILE   a file's content
  -l, --stdin-line       one message per line of stdin (the newline not included)
  -s, --stdin-file       all of stdin as one message
  -n, --null-message     a zero-length message
  -q, --qos 0|1|2        QoS (default 0)        -r, --retain   retain the message
  --count N              send the message N times (alias: --repeat N)
  --rate R               at most R messages per second (or --repeat-delay SECS)
  --quiet                no error messages, only the exit status
";

pub const SUB: &str = "\
usage: midge sub -t FILTER... [options]

Subscribes and prints messages, like mosquitto_sub.

subscription:
  -t, --topic FILTER     topic filter to subscribe to (repeatable)
  -T, --filter-out F     do not print messages whose topic matches F (repeatable)
  -U, --unsubscribe F    unsubscribe from F after subscribing (repeatable)
  -q, --qos 0|1|2        maximum QoS (default 0)
  -C, --count N          exit after N messages
  -W SECS                give up after SECS (status 6; mosquitto_sub uses 27)
  -R                     do not print retained (stale) messages
  --retained-only        print only retained messages; exit at the first fresh one
  --remove-retained      clear every retained message received (publish an empty one)
  --retain-as-published  keep the retain flag as published
  -E                     exit once subscribed
A lost connection is re-established (and the subscriptions renewed) with a backoff;
Ctrl-C or SIGTERM leaves with a clean DISCONNECT (no Will).
";

pub const RR: &str = "\
usage: midge rr -t TOPIC -e RESPONSE-TOPIC {-m MSG | -f FILE | -s | -n} [options]

Request/response, like mosquitto_rr: subscribes to RESPONSE-TOPIC, publishes the request
with that Response Topic and a Correlation Data (yours with -D publish correlation-data,
or a fresh one), prints the first reply carrying the same Correlation Data, and exits.

  -t TOPIC  -e, --response-topic TOPIC  -q QoS  -W SECS (default: wait forever)
";

pub const BENCH: &str = "\
usage: midge bench [-t TOPIC] [--count N] [--size BYTES] [-q QoS] [--rate R] [options]

A quick throughput and latency run through the broker, with two clients in this process:
  1. latency: after one warm-up message, 200 messages, one at a time; each round trip
     (publish -> broker -> our subscriber) timed; p50/p99/max printed;
  2. throughput: --count messages (default 10000) of --size bytes (default 64) as fast as
     the publisher goes (or at --rate), until the subscriber has them all; messages/s and
     the round-trip percentiles under that load printed, and any loss (QoS 0 may drop).
The default topic is midge/bench/<pid>.
";

/// The full help of a subcommand.
pub fn full(mode: Mode) -> String {
    let mut s = for_mode(mode).to_owned();
    s.push('\n');
    if matches!(mode, Mode::Sub | Mode::Rr) {
        s.push_str(OUTPUT);
        s.push('\n');
    }
    s.push_str(CONNECTION);
    s.push('\n');
    s.push_str(EXIT);
    s
}
