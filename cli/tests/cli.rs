//! The `midge` binary against a private Mosquitto, checked both ways against the real
//! mosquitto_pub and mosquitto_sub: what one sends the other prints, byte for byte where
//! the formats are the same (`-v`, `-F`).
//!
//! Subscribers are known to be subscribed when the broker logs its SUBACK to them; every
//! wait is bounded; processes are stopped by their PID.

mod support;

use std::io::{Read as _, Write as _};
use std::net::{Ipv4Addr, TcpListener};

use support::mosquitto::Mosquitto;
use support::{
    MIDGE, MOSQUITTO_PUB, MOSQUITTO_SUB, Running, assert_ok, midge_ok, midge_status, nats_like,
    run, start,
};

/// Every field the two tools format alike (not %m: packet ids are each client's own; not
/// the time sequences).
const FORMAT: &str = "%t|%p|%q|%r|%l|%P|%C|%D|%E|%F|%R|%S|%x|%X|%12.4t|%-4l|%05l|\\t|%%";

/// Starts a subscriber (`program` is midge or mosquitto_sub) with client id `id` and waits
/// until the broker has acknowledged its subscription.
fn subscriber(broker: &Mosquitto, program: &str, id: &str, args: &[&str]) -> Running {
    let port = broker.port().to_string();
    let mut all: Vec<&str> = Vec::new();
    if program == MIDGE {
        all.push("sub");
    }
    all.extend(["-h", "127.0.0.1", "-p", &port, "-i", id]);
    if program == MOSQUITTO_SUB {
        // mosquitto_sub speaks 3.1.1 (and drops every property) unless told otherwise.
        all.extend(["-V", "5"]);
    }
    all.extend(args);
    let child = start(program, &all, b"");
    broker.wait_for_log(&format!("Sending SUBACK to {id}"));
    child
}

fn publish(broker: &Mosquitto, program: &str, args: &[&str], stdin: &[u8]) {
    let port = broker.port().to_string();
    let mut all: Vec<&str> = Vec::new();
    if program == MIDGE {
        all.push("pub");
    }
    all.extend(["-h", "127.0.0.1", "-p", &port]);
    all.extend(args);
    let out = run(program, &all, stdin);
    assert_ok(&out, program, &all);
}

fn stdout(r: Running) -> String {
    let out = r.wait();
    assert!(
        out.status.success(),
        "subscriber failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// The text without the `"tst":"…"` timestamps of `%j`.
fn strip_tst(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("\"tst\":\"") {
        out.push_str(&rest[..at]);
        let after = &rest[at + 7..];
        rest = &after[after.find('"').map_or(after.len(), |e| e + 1)..];
    }
    out.push_str(rest);
    out
}

const PROPS: &[&str] = &[
    "-D",
    "publish",
    "user-property",
    "k1",
    "v1",
    "-D",
    "publish",
    "user-property",
    "k2",
    "v two",
    "-D",
    "publish",
    "content-type",
    "text/plain",
    "-D",
    "publish",
    "correlation-data",
    "c0rr",
    "-D",
    "publish",
    "response-topic",
    "re/ply",
    "-D",
    "publish",
    "payload-format-indicator",
    "1",
    "-D",
    "publish",
    "message-expiry-interval",
    "3600",
];

/// midge pub -> mosquitto_sub: at each QoS, with properties, mosquitto_sub prints the same
/// line for midge's publish as for mosquitto_pub's.
#[test]
fn midge_pub_reaches_mosquitto_sub_as_mosquitto_pub_does() {
    let broker = Mosquitto::start();
    for qos in ["0", "1", "2"] {
        let id = format!("msub-{qos}");
        let sub = subscriber(
            &broker,
            MOSQUITTO_SUB,
            &id,
            &["-t", "t/x", "-q", "2", "-C", "2", "-F", FORMAT],
        );
        let mut args = vec!["-t", "t/x", "-q", qos, "-m", "héllo \"w\""];
        args.extend(PROPS);
        publish(&broker, MOSQUITTO_PUB, &args, b"");
        publish(&broker, MIDGE, &args, b"");
        let text = stdout(sub);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text:?}");
        assert_eq!(lines[0], lines[1], "mosquitto_pub's line, then midge's");
        assert!(
            lines[1].starts_with(&format!("t/x|héllo \"w\"|{qos}|0|")),
            "{}",
            lines[1]
        );
        assert!(
            lines[1].contains("|k1:v1 k2:v two|text/plain|c0rr|"),
            "{}",
            lines[1]
        );
    }
}

/// `-V 311` both ways with the mosquitto tools in 3.1.1 (the broker logs each connection
/// as protocol level 4, "p2"), and what 3.1.1 cannot carry is refused, not dropped.
#[test]
fn v311_both_ways() {
    let broker = Mosquitto::start();
    for qos in ["0", "1", "2"] {
        let id = format!("m311-{qos}");
        let port = broker.port().to_string();
        let sub = start(
            MOSQUITTO_SUB,
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &port,
                "-i",
                &id,
                "-V",
                "mqttv311",
                "-t",
                "v3/x",
                "-q",
                "2",
                "-C",
                "1",
                "-v",
            ],
            b"",
        );
        broker.wait_for_log(&format!("Sending SUBACK to {id}"));
        publish(
            &broker,
            MIDGE,
            &[
                "-V",
                "311",
                "-i",
                "midge-v311-pub",
                "-t",
                "v3/x",
                "-q",
                qos,
                "-m",
                "hi",
            ],
            b"",
        );
        assert_eq!(stdout(sub), "v3/x hi\n");
        let msub = subscriber(
            &broker,
            MIDGE,
            &format!("midge-311-{qos}"),
            &["-V", "311", "-t", "v3/y", "-q", qos, "-C", "1", "-v"],
        );
        publish(
            &broker,
            MOSQUITTO_PUB,
            &["-V", "mqttv311", "-t", "v3/y", "-q", qos, "-m", "back"],
            b"",
        );
        assert_eq!(stdout(msub), "v3/y back\n");
    }
    let log = broker.log();
    assert!(
        log.contains("as midge-v311-pub (p2,"),
        "3.1.1 is protocol level 4: {log}"
    );
    let port = broker.port().to_string();
    let (code, err) = midge_status(&[
        "pub",
        "-p",
        &port,
        "-V",
        "311",
        "-t",
        "x",
        "-m",
        "y",
        "-D",
        "publish",
        "content-type",
        "a",
    ]);
    assert_ne!(code, 0, "a property under 3.1.1 must not vanish: {err}");
    assert!(err.contains("3.1.1"), "{err}");
}

/// mosquitto_pub -> midge sub: midge sub and mosquitto_sub, subscribed side by side, print
/// the same bytes, in -v and -F forms, at each QoS.
#[test]
fn midge_sub_prints_what_mosquitto_sub_prints() {
    let broker = Mosquitto::start();
    let forms = [vec!["-v"], vec!["-F", FORMAT], vec![], vec!["-F", "%j %J"]];
    for (n, form) in forms.iter().enumerate() {
        for qos in ["0", "1", "2"] {
            let mut args = vec!["-t", "s/#", "-q", qos, "-C", "4"];
            args.extend(form.iter().copied());
            let theirs = subscriber(&broker, MOSQUITTO_SUB, &format!("m-{n}-{qos}"), &args);
            let ours = subscriber(&broker, MIDGE, &format!("g-{n}-{qos}"), &args);
            let mut first = vec!["-t", "s/a", "-q", qos, "-m", "one"];
            first.extend(PROPS);
            publish(&broker, MOSQUITTO_PUB, &first, b"");
            publish(
                &broker,
                MOSQUITTO_PUB,
                &["-t", "s/b/c", "-q", qos, "-m", "two words"],
                b"",
            );
            publish(
                &broker,
                MOSQUITTO_PUB,
                &["-t", "s/d", "-q", qos, "-s"],
                b"multi\nline\x01",
            );
            // An empty payload: -v prints "(null)".
            publish(&broker, MOSQUITTO_PUB, &["-t", "s/e", "-q", qos, "-n"], b"");
            let (theirs, ours) = (strip_tst(&stdout(theirs)), strip_tst(&stdout(ours)));
            assert_eq!(ours, theirs, "form {form:?} at QoS {qos}");
            assert_eq!(ours.matches("two words").count(), 1);
        }
    }
}

/// Stdin line mode: `midge pub -l` sends what `mosquitto_pub -l` sends, line for line.
#[test]
fn stdin_lines_match_mosquitto_pub() {
    let broker = Mosquitto::start();
    let input = b"first line\nsecond\nthird with spaces\n";
    let sub = subscriber(
        &broker,
        MOSQUITTO_SUB,
        "lines",
        &["-t", "l/+", "-C", "6", "-v"],
    );
    publish(
        &broker,
        MOSQUITTO_PUB,
        &["-t", "l/m", "-l", "-q", "1"],
        input,
    );
    publish(&broker, MIDGE, &["-t", "l/g", "-l", "-q", "1"], input);
    let text = stdout(sub);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 6, "{text:?}");
    for i in 0..3 {
        assert_eq!(
            lines[i].strip_prefix("l/m "),
            lines[i + 3].strip_prefix("l/g ")
        );
    }
    assert_eq!(lines[4], "l/g second");
}

/// Retained messages: midge's retained publish is seen retained by both subscribers;
/// --retained-only exits at the first fresh message; -R hides stale ones;
/// --remove-retained clears them.
#[test]
fn retained_messages() {
    let broker = Mosquitto::start();
    let port = broker.port().to_string();
    let p = port.as_str();
    midge_ok(&["pub", "-p", p, "-t", "r/1", "-m", "kept", "-r", "-q", "1"]);
    publish(
        &broker,
        MOSQUITTO_PUB,
        &["-t", "r/2", "-m", "also", "-r"],
        b"",
    );
    let f = ["-t", "r/#", "-C", "2", "-F", "%t %p %r"];
    let theirs = run(
        MOSQUITTO_SUB,
        &[&["-p", p, "-V", "5"][..], &f].concat(),
        b"",
    );
    let ours = midge_ok(&[&["sub", "-p", p][..], &f].concat());
    assert_eq!(ours.stdout, theirs.stdout);
    assert_eq!(
        String::from_utf8_lossy(&ours.stdout),
        "r/1 kept 1\nr/2 also 1\n"
    );

    // --retained-only: prints the stale ones, stops at the first fresh one.
    let only = subscriber(
        &broker,
        MIDGE,
        "only",
        &["-t", "r/#", "--retained-only", "-v"],
    );
    publish(&broker, MIDGE, &["-t", "r/3", "-m", "fresh"], b"");
    assert_eq!(stdout(only), "r/1 kept\nr/2 also\n");

    // -R: the fresh one only.
    let fresh = subscriber(
        &broker,
        MIDGE,
        "fresh",
        &["-t", "r/#", "-R", "-C", "1", "-v"],
    );
    publish(&broker, MOSQUITTO_PUB, &["-t", "r/4", "-m", "new"], b"");
    assert_eq!(stdout(fresh), "r/4 new\n");

    // --remove-retained clears both; a later subscriber sees nothing retained.
    midge_ok(&[
        "sub",
        "-p",
        p,
        "-t",
        "r/#",
        "--remove-retained",
        "--retained-only",
        "-i",
        "rm",
    ]);
    let after = subscriber(&broker, MIDGE, "after", &["-t", "r/#", "-C", "1", "-v"]);
    publish(&broker, MIDGE, &["-t", "r/5", "-m", "last"], b"");
    assert_eq!(stdout(after), "r/5 last\n");
}

/// --json: one object per message with every property, binary as base64.
#[test]
fn json_output_has_every_property() {
    let broker = Mosquitto::start();
    let sub = subscriber(
        &broker,
        MIDGE,
        "json",
        &[
            "-t",
            "j/#",
            "-q",
            "2",
            "-C",
            "2",
            "--json",
            "-D",
            "subscribe",
            "subscription-identifier",
            "9",
        ],
    );
    let mut args = vec!["-t", "j/x", "-q", "2", "-m", "{\"a\":1}"];
    args.extend(PROPS);
    publish(&broker, MOSQUITTO_PUB, &args, b"");
    let file = broker.dir().join("bin");
    std::fs::write(&file, b"\xff\x00ok").unwrap();
    publish(
        &broker,
        MOSQUITTO_PUB,
        &["-t", "j/bin", "-f", file.to_str().unwrap()],
        b"",
    );
    let text = stdout(sub);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    for want in [
        r#"{"topic":"j/x","payload":"{\"a\":1}","payload_encoding":"utf-8","qos":2,"retain":false"#,
        r#""content_type":"text/plain""#,
        r#""correlation_data":"c0rr","correlation_data_encoding":"utf-8""#,
        r#""response_topic":"re/ply""#,
        r#""payload_format_indicator":1"#,
        r#""message_expiry_interval":"#,
        r#""user_properties":[["k1","v1"],["k2","v two"]]"#,
        r#""subscription_identifiers":[9]"#,
    ] {
        assert!(lines[0].contains(want), "{want} in {}", lines[0]);
    }
    assert!(
        lines[1].contains(r#""payload":"/wBvaw==","payload_encoding":"base64""#),
        "{}",
        lines[1]
    );
}

/// --count and --rate, and a binary file payload arriving intact.
#[test]
fn count_rate_and_file() {
    let broker = Mosquitto::start();
    let sub = subscriber(
        &broker,
        MOSQUITTO_SUB,
        "count",
        &["-t", "c", "-C", "5", "-q", "1"],
    );
    publish(
        &broker,
        MIDGE,
        &[
            "-t", "c", "-m", "x", "--count", "5", "--rate", "200", "-q", "1",
        ],
        b"",
    );
    assert_eq!(stdout(sub), "x\nx\nx\nx\nx\n");

    let dir = broker.dir().join("payload.bin");
    let bytes: Vec<u8> = (0..=255).collect();
    std::fs::write(&dir, &bytes).unwrap();
    let sub = subscriber(
        &broker,
        MOSQUITTO_SUB,
        "file",
        &["-t", "f", "-C", "1", "-N"],
    );
    publish(
        &broker,
        MIDGE,
        &["-t", "f", "-f", dir.to_str().unwrap()],
        b"",
    );
    assert_eq!(sub.wait().stdout, bytes);
}

/// -L URL with credentials, and a Will published when the client vanishes is out of scope;
/// the URL's user and password are what the broker checks.
#[test]
fn url_and_credentials() {
    let broker = Mosquitto::builder().password("alice", "s3cret").start();
    let port = broker.port();
    let sub = start(
        MIDGE,
        &[
            "sub",
            "-L",
            &format!("mqtt://alice:s3cret@127.0.0.1:{port}/u/t"),
            "-C",
            "1",
            "-i",
            "url",
        ],
        b"",
    );
    broker.wait_for_log("Sending SUBACK to url");
    publish(
        &broker,
        MOSQUITTO_PUB,
        &["-u", "alice", "-P", "s3cret", "-t", "u/t", "-m", "hi"],
        b"",
    );
    assert_eq!(stdout(sub), "hi\n");

    let (code, err) = midge_status(&[
        "pub",
        "-p",
        &port.to_string(),
        "-u",
        "alice",
        "-P",
        "wrong",
        "-t",
        "x",
        "-m",
        "y",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("connection refused") && err.contains("-u/-P"),
        "{err}"
    );
}

/// Request/response against a responder on the library's API.
#[test]
fn request_response() {
    use midge::codec::{PropertyId, QoS};
    use midge::runtime::ClientEvent;
    let broker = Mosquitto::start();
    let responder = broker.connected_client(midge::ClientOptions::default());
    responder
        .subscribe_and_wait("svc/upper", QoS::AtLeastOnce, support::TIMEOUT)
        .unwrap();
    let r = responder.clone();
    responder.set_callback(move |e| {
        if let ClientEvent::Message(m) = e {
            let topic = m
                .properties
                .get_str(PropertyId::ResponseTopic)
                .unwrap()
                .clone();
            let corr = m
                .properties
                .get_binary(PropertyId::CorrelationData)
                .unwrap()
                .clone();
            let props =
                midge::codec::Properties::new().with(midge::codec::Property::CorrelationData(corr));
            let reply = String::from_utf8_lossy(&m.payload).to_uppercase();
            let _ = r.publish(&topic, reply, QoS::AtLeastOnce, false, props);
        }
    });
    let port = broker.port().to_string();
    let out = midge_ok(&[
        "rr",
        "-p",
        &port,
        "-t",
        "svc/upper",
        "-e",
        "rr/reply",
        "-m",
        "shout",
        "-q",
        "1",
        "-W",
        "5",
        "-v",
    ]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "rr/reply SHOUT\n");
    responder.close_and_join();
}

/// What failed is in the exit status, and the message says what to do.
#[test]
fn exit_statuses() {
    // Nothing listening: a port that was free a moment ago.
    let free = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    let (code, err) = midge_status(&["pub", "-h", "127.0.0.1", "-p", &free, "-t", "x", "-m", "y"]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("Connection refused"), "{err}");

    let nats = nats_like().to_string();
    let (code, err) = midge_status(&["sub", "-h", "127.0.0.1", "-p", &nats, "-t", "x"]);
    assert_eq!(code, 4, "{err}");
    assert!(
        err.contains("is this an MQTT server?") && err.contains("INFO"),
        "{err}"
    );

    let (code, err) = midge_status(&["pub", "-t", "x", "-q", "abc", "-m", "y"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("-q") && err.contains("abc"), "{err}");
    let (code, err) = midge_status(&["pub", "-m", "y"]);
    assert_eq!(code, 1);
    assert!(err.contains("-t"), "{err}");
    let (code, err) = midge_status(&["sub", "-q", "1"]);
    assert_eq!(code, 1);
    assert!(err.contains("-t"), "{err}");
    let (code, _) = midge_status(&["pub", "-t", "x", "-m", "y", "--bogus"]);
    assert_eq!(code, 1);
    let (code, err) = midge_status(&["pub", "-t", "x", "-m", "y", "-V", "31"]);
    assert_eq!(code, 8);
    assert!(err.contains("MQTT 3.1 is not supported"), "{err}");
    let (code, err) = midge_status(&["sub", "-t", "x", "--psk", "00"]);
    assert_eq!(code, 8);
    assert!(err.contains("PSK"), "{err}");
    let (code, err) = midge_status(&["pub", "-t", "x", "-f", "/nonexistent/file"]);
    assert_eq!(code, 9);
    assert!(err.contains("/nonexistent/file"), "{err}");

    // -W: the timeout, after a successful subscription.
    let broker = Mosquitto::start();
    let port = broker.port().to_string();
    let (code, err) = midge_status(&["sub", "-p", &port, "-t", "quiet", "-W", "1"]);
    assert_eq!(code, 6, "{err}");

    // --help works, -h is the host.
    let out = midge_ok(&["sub", "--help"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("exit status"));
}

/// bench runs and reports throughput and latency.
#[test]
fn bench_reports() {
    let broker = Mosquitto::start();
    let port = broker.port().to_string();
    let out = midge_ok(&["bench", "-p", &port, "--count", "500", "-q", "1"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("messages/s") && text.contains("p99"),
        "{text}"
    );
    assert!(text.contains("500 of 500"), "{text}");
}

/// -c/-x keep a session (-E: exit once subscribed); -T filters topics out; a Will is
/// published when the client vanishes.
#[test]
fn session_filter_out_and_will() {
    let broker = Mosquitto::start();
    let port = broker.port().to_string();
    let p = port.as_str();
    midge_ok(&[
        "sub", "-p", p, "-t", "k/#", "-q", "1", "-c", "-i", "keeper", "-E",
    ]);
    midge_ok(&["pub", "-p", p, "-t", "k/skip", "-m", "filtered", "-q", "1"]);
    midge_ok(&["pub", "-p", p, "-t", "k/a", "-m", "queued", "-q", "1"]);
    let out = midge_ok(&[
        "sub", "-p", p, "-t", "k/#", "-q", "1", "-c", "-i", "keeper", "-C", "1", "-v", "-T",
        "k/skip",
    ]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "k/a queued\n");

    // The Will: a subscriber killed (by its PID) without DISCONNECT.
    let watcher = subscriber(
        &broker,
        MOSQUITTO_SUB,
        "watcher",
        &["-t", "w/status", "-C", "1", "-v"],
    );
    let doomed = subscriber(
        &broker,
        MIDGE,
        "doomed",
        &[
            "-t",
            "nothing",
            "--will-topic",
            "w/status",
            "--will-payload",
            "gone",
            "--will-qos",
            "1",
        ],
    );
    // SIGTERM: a clean DISCONNECT, so no Will, and status 0.
    let polite = subscriber(
        &broker,
        MIDGE,
        "polite",
        &[
            "-t",
            "nothing",
            "--will-topic",
            "w/status",
            "--will-payload",
            "polite",
        ],
    );
    let out = polite.terminate();
    assert_ok(&out, "midge sub", &["(SIGTERM)"]);
    broker.wait_for_log("Received DISCONNECT from polite");

    doomed.kill();
    assert_eq!(
        stdout(watcher),
        "w/status gone\n",
        "the Will of the killed one only"
    );
}

/// midge sub reconnects and resubscribes after the broker restarts, as mosquitto_sub does.
#[test]
fn sub_survives_a_broker_restart() {
    let mut broker = Mosquitto::start();
    let sub = subscriber(
        &broker,
        MIDGE,
        "survivor",
        &["-t", "r/#", "-C", "2", "-v", "-q", "1"],
    );
    publish(
        &broker,
        MOSQUITTO_PUB,
        &["-t", "r/1", "-m", "before", "-q", "1"],
        b"",
    );
    broker.restart();
    broker.wait_for_log_count("Sending SUBACK to survivor", 2);
    publish(
        &broker,
        MOSQUITTO_PUB,
        &["-t", "r/2", "-m", "after", "-q", "1"],
        b"",
    );
    let out = sub.wait();
    assert_ok(&out, "midge sub", &[]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "r/1 before\nr/2 after\n"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("connection lost") && err.contains("reconnected"),
        "{err}"
    );
}

/// A publish the broker's ACL refuses: status 5, and the reason.
#[test]
fn refused_publish_and_subscription() {
    let dir = std::env::temp_dir().join(format!("midge-cli-acl-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let acl = dir.join("acl");
    std::fs::write(&acl, "user alice\ntopic read ro/#\ntopic readwrite rw/#\n").unwrap();
    let broker = Mosquitto::builder()
        .password("alice", "pw")
        .extra_config(format!("acl_file {}", acl.display()))
        .start();
    let port = broker.port().to_string();
    let base = ["-p", port.as_str(), "-u", "alice", "-P", "pw"];

    midge_ok(&[&["pub"][..], &base, &["-t", "rw/x", "-m", "ok", "-q", "1"]].concat());
    let (code, err) =
        midge_status(&[&["pub"][..], &base, &["-t", "ro/x", "-m", "no", "-q", "1"]].concat());
    assert_eq!(code, 5, "{err}");
    assert!(err.contains("Not authorized"), "{err}");
    // (Mosquitto 2.0 grants every subscription and filters per message, so a refused
    // SUBACK cannot be provoked here.)
    let _ = std::fs::remove_dir_all(&dir);
}

/// -U: unsubscribed after subscribing; rr -W: no reply in time is status 6.
#[test]
fn unsubscribe_and_rr_timeout() {
    let broker = Mosquitto::start();
    let port = broker.port().to_string();
    let sub = start(
        MIDGE,
        &[
            "sub", "-p", &port, "-i", "unsub", "-t", "a/#", "-t", "b/#", "-U", "b/#", "-C", "1",
            "-v",
        ],
        b"",
    );
    broker.wait_for_log("Sending UNSUBACK to unsub");
    publish(&broker, MIDGE, &["-t", "b/x", "-m", "dropped"], b"");
    publish(&broker, MIDGE, &["-t", "a/x", "-m", "kept"], b"");
    assert_eq!(stdout(sub), "a/x kept\n");

    let (code, err) = midge_status(&[
        "rr", "-p", &port, "-t", "nobody", "-e", "re", "-m", "?", "-W", "1",
    ]);
    assert_eq!(code, 6, "{err}");
    assert!(err.contains("no reply"), "{err}");
}

/// A CA, a server certificate for 127.0.0.1 signed by it, and a second CA that signed
/// nothing the broker shows, made by the openssl tool in the broker's own directory.
fn certificates(dir: &std::path::Path) {
    let ec = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes";
    let script = format!(
        "openssl req -x509 {ec} -keyout ca.key -out ca.pem -days 2 -subj /CN=cli-ca && \
         openssl req -x509 {ec} -keyout other.key -out other.pem -days 2 -subj /CN=other && \
         printf 'subjectAltName=IP:127.0.0.1\\n' >server.ext && \
         openssl req {ec} -keyout server.key -out server.csr -subj /CN=127.0.0.1 && \
         openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
           -out server.pem -days 2 -extfile server.ext"
    );
    let out = std::process::Command::new("sh")
        .args(["-c", &script])
        .current_dir(dir)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// TLS with mosquitto_pub/sub's options: `--cafile` round trip (port 8883 by default,
/// `mqtts://` in -L), an unknown CA refused with status 10 and words, `--insecure` with a
/// warning, and a missing CA file.
#[test]
fn tls_options() {
    let certs = std::env::temp_dir().join(format!("midge-cli-tls-{}", std::process::id()));
    std::fs::create_dir_all(&certs).unwrap();
    certificates(&certs);
    let file = |name: &str| certs.join(name).display().to_string();
    let broker = Mosquitto::builder()
        .extra_config(format!("cafile {}", file("ca.pem")))
        .extra_config(format!("certfile {}", file("server.pem")))
        .extra_config(format!("keyfile {}", file("server.key")))
        .start();
    let port = broker.port().to_string();
    let ca = file("ca.pem");
    let common = ["-h", "127.0.0.1", "-p", &port, "--cafile", &ca];

    let mut sub_args = vec!["sub"];
    sub_args.extend(common);
    sub_args.extend(["-i", "tls-sub", "-t", "tls/t", "-q", "1", "-C", "1", "-v"]);
    let sub = start(MIDGE, &sub_args, b"");
    broker.wait_for_log("Sending SUBACK to tls-sub");
    let mut pub_args = vec!["pub"];
    pub_args.extend(common);
    pub_args.extend(["-t", "tls/t", "-q", "1", "-m", "over TLS"]);
    midge_ok(&pub_args);
    assert_eq!(stdout(sub), "tls/t over TLS\n");

    let url = format!("mqtts://127.0.0.1:{port}/tls/t");
    midge_ok(&["pub", "-L", &url, "--cafile", &ca, "-m", "by URL"]);

    let other = file("other.pem");
    let (code, err) = midge_status(&[
        "pub",
        "-h",
        "127.0.0.1",
        "-p",
        &port,
        "--cafile",
        &other,
        "-t",
        "x",
        "-m",
        "y",
    ]);
    assert_eq!(code, 10, "{err}");
    assert!(err.contains("TLS"), "{err}");

    let out = midge_ok(&[
        "pub",
        "-h",
        "127.0.0.1",
        "-p",
        &port,
        "--insecure",
        "-t",
        "x",
        "-m",
        "y",
    ]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("not verified"));

    let (code, err) = midge_status(&[
        "pub",
        "-h",
        "127.0.0.1",
        "-p",
        &port,
        "--cafile",
        "/nonexistent/ca.pem",
        "-t",
        "x",
        "-m",
        "y",
    ]);
    assert_eq!(code, 10, "{err}");
    assert!(err.contains("/nonexistent/ca.pem"), "{err}");
    let _ = std::fs::remove_dir_all(&certs);
}

/// A server that accepts the connection (CONNACK) and closes it when a PUBLISH arrives.
fn drops_on_publish() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { return };
            let mut buf = [0; 1024];
            // The CONNECT (one read is enough for its few bytes), then CONNACK: Success.
            if !matches!(s.read(&mut buf), Ok(n) if n > 0) {
                continue;
            }
            let _ = s.write_all(&[0x20, 0x03, 0x00, 0x00, 0x00]);
            // The next bytes are the PUBLISH: close without an acknowledgement.
            let _ = s.read(&mut buf);
        }
    });
    port
}

/// A connection lost while a publish waits for its acknowledgement ends `midge pub` at
/// once with status 7, as mosquitto_pub does (it waited out its 30 s ack timeout and said
/// "timed out", status 6).
#[test]
fn pub_reports_a_lost_connection_at_once() {
    let port = drops_on_publish().to_string();
    let (code, err) = midge_status(&[
        "pub",
        "-h",
        "127.0.0.1",
        "-p",
        &port,
        "-t",
        "t",
        "-q",
        "1",
        "-m",
        "x",
    ]);
    assert_eq!(code, 7, "{err}");
    assert!(err.contains("connection was lost"), "{err}");
}
