//! The command line: mosquitto_pub/sub/rr's options with their meaning, parsed by hand so
//! that `-h` is the host (as in mosquitto), `-D` takes its 3 or 4 words, and every bad value
//! is a usage error naming the option.

use midge::codec::{ByteString, Bytes, PayloadFormat, Properties, Property, QoS, topic};
use midge::transport::{Pem, TlsOptions, TlsVersions};

use crate::fail::{Failure, Status};

/// Which subcommand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Pub,
    Sub,
    Rr,
    Bench,
}

/// Where `pub` and `rr` take the payload from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Message(Vec<u8>),
    File(String),
    /// `-l`: every line of stdin is one message.
    Lines,
    /// `-s`: all of stdin is one message.
    Stdin,
    /// `-n`: a zero-length message.
    Null,
}

/// `-D` properties, per MQTT packet.
#[derive(Debug, Default)]
pub struct Props {
    pub connect: Properties,
    pub publish: Properties,
    pub subscribe: Properties,
    pub unsubscribe: Properties,
    pub disconnect: Properties,
    pub will: Properties,
    /// `-D publish topic-alias N` (sent through the request, not the properties).
    pub topic_alias: Option<u16>,
}

/// Everything the command line said.
#[derive(Debug)]
pub struct Args {
    pub mode: Mode,
    pub host: String,
    pub port: Option<u16>,
    pub unix: Option<String>,
    pub topics: Vec<String>,
    pub filter_out: Vec<String>,
    pub unsubscribe: Vec<String>,
    pub source: Option<Source>,
    pub qos: QoS,
    pub retain: bool,
    pub client_id: Option<String>,
    pub id_prefix: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub keepalive: u16,
    pub clean: bool,
    pub session_expiry: Option<u32>,
    pub props: Props,
    pub will_topic: Option<String>,
    pub will_payload: Option<Vec<u8>>,
    pub will_qos: QoS,
    pub will_retain: bool,
    /// `-V 311`: MQTT 3.1.1.
    pub v311: bool,
    /// TLS (`--cafile`, `--cert`, ..., or `-L mqtts://`): `mqtts://`, port 8883.
    pub tls: Option<TlsOptions>,
    pub verbose: bool,
    pub format: Option<String>,
    pub json: bool,
    pub no_eol: bool,
    pub count: Option<u64>,
    pub rate: Option<f64>,
    pub timeout: Option<u64>,
    pub no_retained: bool,
    pub retained_only: bool,
    pub remove_retained: bool,
    pub retain_as_published: bool,
    pub exit_after_subscribe: bool,
    pub debug: bool,
    pub quiet: bool,
    pub response_topic: Option<String>,
    /// bench: payload size in bytes.
    pub size: usize,
}

impl Args {
    fn new(mode: Mode) -> Self {
        Self {
            mode,
            host: "localhost".to_owned(),
            port: None,
            unix: None,
            topics: Vec::new(),
            filter_out: Vec::new(),
            unsubscribe: Vec::new(),
            source: None,
            qos: QoS::AtMostOnce,
            retain: false,
            client_id: None,
            id_prefix: None,
            username: None,
            password: None,
            keepalive: 60,
            clean: true,
            session_expiry: None,
            props: Props::default(),
            will_topic: None,
            will_payload: None,
            will_qos: QoS::AtMostOnce,
            will_retain: false,
            v311: false,
            tls: None,
            verbose: false,
            format: None,
            json: false,
            no_eol: false,
            count: None,
            rate: None,
            timeout: None,
            no_retained: false,
            retained_only: false,
            remove_retained: false,
            retain_as_published: false,
            exit_after_subscribe: false,
            debug: false,
            quiet: false,
            response_topic: None,
            size: 64,
        }
    }

    /// The broker address for [`midge::Client::new`].
    pub fn address(&self) -> String {
        if let Some(path) = &self.unix {
            return format!("unix://{path}");
        }
        let (scheme, default) = if self.tls.is_some() {
            ("mqtts", 8883)
        } else {
            ("mqtt", 1883)
        };
        let port = self.port.unwrap_or(default);
        if self.host.contains(':') && !self.host.starts_with('[') {
            format!("{scheme}://[{}]:{port}", self.host)
        } else {
            format!("{scheme}://{}:{port}", self.host)
        }
    }
}

/// What `main` should do.
#[derive(Debug)]
pub enum Parsed {
    Run(Box<Args>),
    /// Print this text to stdout and exit 0.
    Help(String),
}

fn usage(message: impl Into<String>) -> Failure {
    Failure::usage(message)
}

fn qos(option: &str, value: &str) -> Result<QoS, Failure> {
    value
        .parse::<u8>()
        .ok()
        .and_then(QoS::from_u8)
        .ok_or_else(|| usage(format!("{option}: QoS must be 0, 1 or 2, not {value:?}")))
}

fn number<T: std::str::FromStr>(option: &str, value: &str, what: &str) -> Result<T, Failure> {
    value
        .parse()
        .map_err(|_| usage(format!("{option}: expected {what}, not {value:?}")))
}

/// mosquitto's TLS options midge does not take (OpenSSL engines, cipher strings, PSK).
const TLS_OPTIONS: &[&str] = &[
    "--ciphers",
    "--tls-engine",
    "--keyform",
    "--tls-engine-kpass-sha1",
    "--psk",
    "--psk-identity",
];

/// Parses `argv` without the program name.
pub fn parse(argv: &[String]) -> Result<Parsed, Failure> {
    let Some(first) = argv.first() else {
        return Err(usage(format!("missing command\n\n{}", crate::help::MAIN)));
    };
    let mode = match first.as_str() {
        "pub" => Mode::Pub,
        "sub" => Mode::Sub,
        "rr" => Mode::Rr,
        "bench" => Mode::Bench,
        "--help" | "help" => {
            return Ok(Parsed::Help(format!(
                "{}\n{}",
                crate::help::MAIN,
                crate::help::EXIT
            )));
        }
        "--version" => {
            return Ok(Parsed::Help(format!(
                "midge {}\n",
                env!("CARGO_PKG_VERSION")
            )));
        }
        other => {
            return Err(usage(format!(
                "unknown command {other:?} (expected pub, sub, rr or bench)\n\n{}",
                crate::help::MAIN
            )));
        }
    };
    let mut a = Args::new(mode);
    let mut it = argv[1..].iter();
    while let Some(opt) = it.next() {
        let opt = opt.as_str();
        let mut value = |what: &str| -> Result<&String, Failure> {
            it.next()
                .ok_or_else(|| usage(format!("{opt} needs {what}")))
        };
        match opt {
            "--help" => return Ok(Parsed::Help(crate::help::full(mode))),
            "-h" | "--host" => a.host.clone_from(value("a host name")?),
            "-p" | "--port" => a.port = Some(port(opt, value("a port")?)?),
            "--unix" => a.unix = Some(value("a socket path")?.clone()),
            "-t" | "--topic" => a.topics.push(value("a topic")?.clone()),
            "-T" | "--filter-out" => a.filter_out.push(value("a topic filter")?.clone()),
            "-U" | "--unsubscribe" => a.unsubscribe.push(value("a topic filter")?.clone()),
            "-m" | "--message" => {
                set_source(
                    &mut a,
                    Source::Message(value("a message")?.as_bytes().to_vec()),
                )?;
            }
            "-f" | "--file" => set_source(&mut a, Source::File(value("a file name")?.clone()))?,
            "-l" | "--stdin-line" => set_source(&mut a, Source::Lines)?,
            "-s" | "--stdin-file" => set_source(&mut a, Source::Stdin)?,
            "-n" | "--null-message" => set_source(&mut a, Source::Null)?,
            "-q" | "--qos" => a.qos = qos(opt, value("a QoS")?)?,
            "-r" | "--retain" => a.retain = true,
            "-i" | "--id" => a.client_id = Some(value("a client id")?.clone()),
            "-I" | "--id-prefix" => a.id_prefix = Some(value("a prefix")?.clone()),
            "-u" | "--username" => a.username = Some(value("a user name")?.clone()),
            "-P" | "--pw" => a.password = Some(value("a password")?.clone()),
            "-k" | "--keepalive" => {
                a.keepalive = number(opt, value("seconds")?, "seconds (0..65535)")?;
            }
            "-c" | "--disable-clean-session" => a.clean = false,
            "-x" => {
                let v = value("seconds")?;
                a.session_expiry = Some(if v == "∞" || v == "inf" {
                    u32::MAX
                } else {
                    number(opt, v, "seconds (0..4294967295)")?
                });
            }
            "-D" | "--property" => {
                let command = value("a command (connect, publish, ...)")?.clone();
                let name = value("a property name")?.clone();
                let v1 = value("a value")?.clone();
                let v2 = if name == "user-property" {
                    Some(value("a user property value (-D CMD user-property KEY VALUE)")?.clone())
                } else {
                    None
                };
                property(&mut a.props, &command, &name, &v1, v2.as_deref())?;
            }
            "--will-topic" => a.will_topic = Some(value("a topic")?.clone()),
            "--will-payload" => a.will_payload = Some(value("a payload")?.as_bytes().to_vec()),
            "--will-qos" => a.will_qos = qos(opt, value("a QoS")?)?,
            "--will-retain" => a.will_retain = true,
            "-V" | "--protocol-version" => match value("a protocol version")?.as_str() {
                "5" | "mqttv5" => a.v311 = false,
                "311" | "mqttv311" => a.v311 = true,
                v @ ("31" | "mqttv31") => {
                    return Err(Failure::new(
                        Status::Unsupported,
                        format!("-V {v}: MQTT 3.1 is not supported; use -V 311 or -V 5"),
                    ));
                }
                v => {
                    return Err(usage(format!(
                        "-V: unknown protocol version {v:?} (5 or 311)"
                    )));
                }
            },
            "-v" | "--verbose" => a.verbose = true,
            "-F" => a.format = Some(value("a format string")?.clone()),
            "--json" => a.json = true,
            "-N" => a.no_eol = true,
            "-C" | "--count" | "--repeat" => {
                let n: u64 = number(opt, value("a count")?, "a positive count")?;
                if n == 0 {
                    return Err(usage(format!("{opt}: the count must be at least 1")));
                }
                a.count = Some(n);
            }
            "--rate" => {
                let r: f64 = number(opt, value("messages per second")?, "messages per second")?;
                if r.is_nan() || r <= 0.0 {
                    return Err(usage(format!("{opt}: the rate must be above 0")));
                }
                a.rate = Some(r);
            }
            "--repeat-delay" => {
                let d: f64 = number(opt, value("seconds")?, "seconds")?;
                if d.is_nan() || d < 0.0 {
                    return Err(usage(format!("{opt}: the delay must be 0 or more")));
                }
                a.rate = if d == 0.0 { None } else { Some(1.0 / d) };
            }
            "-W" => {
                let w: u64 = number(opt, value("seconds")?, "whole seconds")?;
                if w == 0 {
                    return Err(usage("-W: the timeout must be at least 1 second"));
                }
                a.timeout = Some(w);
            }
            "-R" => a.no_retained = true,
            "--retained-only" => a.retained_only = true,
            "--remove-retained" => a.remove_retained = true,
            "--retain-as-published" => a.retain_as_published = true,
            "-E" => a.exit_after_subscribe = true,
            "-d" | "--debug" => a.debug = true,
            "--quiet" => a.quiet = true,
            "--pretty" | "--nodelay" => {}
            "-e" | "--response-topic" => a.response_topic = Some(value("a topic")?.clone()),
            "-L" | "--url" => url(&mut a, value("a URL")?)?,
            "--size" => a.size = number(opt, value("bytes")?, "a payload size in bytes")?,
            "--cafile" => tls(&mut a).ca.push(Pem::File(value("a CA file")?.into())),
            "--capath" => tls(&mut a).ca_dirs.push(value("a CA directory")?.into()),
            "--cert" => {
                tls(&mut a).client_cert = Some(Pem::File(value("a certificate file")?.into()));
            }
            "--key" => tls(&mut a).client_key = Some(Pem::File(value("a key file")?.into())),
            "--tls-use-os-certs" => tls(&mut a).system_roots = Some(true),
            "--tls-alpn" => tls(&mut a)
                .alpn
                .push(value("a protocol")?.as_bytes().to_vec()),
            "--tls-version" => {
                tls(&mut a).versions = match value("tlsv1.2 or tlsv1.3")?.as_str() {
                    "tlsv1.3" => TlsVersions::Tls13Only,
                    "tlsv1.2" => TlsVersions::Tls12Only,
                    v => {
                        return Err(usage(format!(
                            "--tls-version: tlsv1.2 or tlsv1.3, not {v:?}"
                        )));
                    }
                };
            }
            "--insecure" => tls(&mut a).dangerous_no_verify = true,
            o if TLS_OPTIONS.contains(&o) => {
                return Err(Failure::new(
                    Status::Unsupported,
                    format!(
                        "{o} is not supported by midge (its TLS is rustls: no OpenSSL engines, cipher strings or PSK)"
                    ),
                ));
            }
            "-A" | "-S" | "--proxy" | "--random-filter" => {
                return Err(Failure::new(
                    Status::Unsupported,
                    format!("{opt} is not supported by midge"),
                ));
            }
            o => {
                return Err(usage(format!(
                    "unknown option {o:?}\n(see `midge {} --help`)",
                    crate::help::name(mode)
                )));
            }
        }
    }
    check(&mut a)?;
    Ok(Parsed::Run(Box::new(a)))
}

/// The TLS options, made on first use: any TLS option turns TLS on.
fn tls(a: &mut Args) -> &mut TlsOptions {
    a.tls.get_or_insert_with(TlsOptions::default)
}

fn port(option: &str, value: &str) -> Result<u16, Failure> {
    match value.parse::<u16>() {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(usage(format!(
            "{option}: a port is 1..65535, not {value:?}"
        ))),
    }
}

fn set_source(a: &mut Args, source: Source) -> Result<(), Failure> {
    if a.source.is_some() {
        return Err(usage(
            "only one of -m, -f, -l, -s, -n may be given (the message comes from one place)",
        ));
    }
    a.source = Some(source);
    Ok(())
}

/// `-L mqtt://[user[:password]@]host[:port]/topic`.
fn url(a: &mut Args, url: &str) -> Result<(), Failure> {
    let rest = if let Some(rest) = url.strip_prefix("mqtts://") {
        tls(a);
        rest
    } else if let Some(rest) = url.strip_prefix("mqtt://") {
        rest
    } else {
        return Err(usage(format!(
            "-L: expected mqtt[s]://[user[:password]@]host[:port]/topic, not {url:?}"
        )));
    };
    let (authority, topic) = rest.split_once('/').unwrap_or((rest, ""));
    let hostport = match authority.rsplit_once('@') {
        Some((cred, hostport)) => {
            match cred.split_once(':') {
                Some((u, p)) => {
                    a.username = Some(u.to_owned());
                    a.password = Some(p.to_owned());
                }
                None => a.username = Some(cred.to_owned()),
            }
            hostport
        }
        None => authority,
    };
    let (host, port_text) = if let Some(v6) = hostport.strip_prefix('[') {
        let (h, after) = v6
            .split_once(']')
            .ok_or_else(|| usage("-L: unclosed '[' in the host"))?;
        (h, after.strip_prefix(':'))
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (hostport, None),
        }
    };
    if host.is_empty() {
        return Err(usage(format!("-L: no host in {url:?}")));
    }
    host.clone_into(&mut a.host);
    if let Some(p) = port_text {
        a.port = Some(port("-L", p)?);
    }
    if !topic.is_empty() {
        a.topics.push(topic.to_owned());
    }
    Ok(())
}

/// One `-D command name value [value2]`, with mosquitto's names.
fn property(
    props: &mut Props,
    command: &str,
    name: &str,
    value: &str,
    value2: Option<&str>,
) -> Result<(), Failure> {
    let bad = |what: &str| usage(format!("-D {command} {name}: {what}, not {value:?}"));
    let int = || value.parse::<u32>().map_err(|_| bad("expected a number"));
    let short = || {
        value
            .parse::<u16>()
            .map_err(|_| bad("expected a number 0..65535"))
    };
    let flag = || match value {
        "0" => Ok(false),
        "1" => Ok(true),
        _ => Err(bad("expected 0 or 1")),
    };
    let s = || ByteString::from(value.to_owned());
    let p = match name {
        "user-property" => {
            Property::UserProperty(s(), ByteString::from(value2.unwrap_or_default().to_owned()))
        }
        "content-type" => Property::ContentType(s()),
        "response-topic" => Property::ResponseTopic(s()),
        "correlation-data" => Property::CorrelationData(Bytes::from(value.as_bytes().to_vec())),
        "message-expiry-interval" => Property::MessageExpiryInterval(int()?),
        "payload-format-indicator" => Property::PayloadFormatIndicator(if flag()? {
            PayloadFormat::Utf8
        } else {
            PayloadFormat::Unspecified
        }),
        "session-expiry-interval" => Property::SessionExpiryInterval(int()?),
        "receive-maximum" => Property::ReceiveMaximum(short()?),
        "maximum-packet-size" => Property::MaximumPacketSize(int()?),
        "topic-alias-maximum" => Property::TopicAliasMaximum(short()?),
        "request-problem-information" => Property::RequestProblemInformation(flag()?),
        "request-response-information" => Property::RequestResponseInformation(flag()?),
        "will-delay-interval" => Property::WillDelayInterval(int()?),
        "subscription-identifier" => Property::SubscriptionIdentifier(int()?),
        "reason-string" => Property::ReasonString(s()),
        "topic-alias" => {
            if command != "publish" {
                return Err(usage(format!(
                    "-D {command} topic-alias: only with publish"
                )));
            }
            props.topic_alias = Some(short()?);
            return Ok(());
        }
        "authentication-method" | "authentication-data" => {
            return Err(Failure::new(
                Status::Unsupported,
                format!(
                    "-D {command} {name}: enhanced authentication is not supported by the midge command line"
                ),
            ));
        }
        _ => return Err(usage(format!("-D: unknown property {name:?}"))),
    };
    let allowed: &[&str] = match command {
        "connect" => &[
            "user-property",
            "session-expiry-interval",
            "receive-maximum",
            "maximum-packet-size",
            "topic-alias-maximum",
            "request-problem-information",
            "request-response-information",
        ],
        "publish" | "will" => &[
            "user-property",
            "content-type",
            "response-topic",
            "correlation-data",
            "message-expiry-interval",
            "payload-format-indicator",
            "will-delay-interval",
        ],
        "subscribe" => &["user-property", "subscription-identifier"],
        "unsubscribe" => &["user-property"],
        "disconnect" => &["user-property", "session-expiry-interval", "reason-string"],
        _ => {
            return Err(usage(format!(
                "-D: unknown command {command:?} (connect, publish, subscribe, unsubscribe, disconnect, will)"
            )));
        }
    };
    if !allowed.contains(&name) || (name == "will-delay-interval" && command != "will") {
        return Err(usage(format!(
            "-D {command} {name}: this property is not allowed in {command}"
        )));
    }
    let target = match command {
        "connect" => &mut props.connect,
        "publish" => &mut props.publish,
        "subscribe" => &mut props.subscribe,
        "unsubscribe" => &mut props.unsubscribe,
        "disconnect" => &mut props.disconnect,
        _ => &mut props.will,
    };
    target.push(p);
    Ok(())
}

/// The checks that need the whole command line.
fn check(a: &mut Args) -> Result<(), Failure> {
    let name = crate::help::name(a.mode);
    match a.mode {
        Mode::Pub => {
            if a.topics.is_empty() {
                return Err(usage(format!(
                    "{name}: no topic: give -t TOPIC (or -L URL)"
                )));
            }
            if a.topics.len() > 1 {
                return Err(usage("pub: only one -t topic"));
            }
            if a.source.is_none() {
                return Err(usage(
                    "pub: no message: give one of -m MESSAGE, -f FILE, -l, -s or -n",
                ));
            }
        }
        Mode::Sub => {
            if a.topics.is_empty() {
                return Err(usage(
                    "sub: no topic: give -t FILTER (repeatable, or -L URL)",
                ));
            }
            if a.no_retained && a.retained_only {
                return Err(usage("-R and --retained-only contradict each other"));
            }
        }
        Mode::Rr => {
            if a.topics.len() != 1 {
                return Err(usage("rr: give exactly one -t TOPIC for the request"));
            }
            if a.response_topic.is_none() {
                return Err(usage("rr: give -e RESPONSE-TOPIC"));
            }
            if matches!(a.source, None | Some(Source::Lines)) {
                return Err(usage(
                    "rr: give one of -m MESSAGE, -f FILE, -s or -n for the request",
                ));
            }
        }
        Mode::Bench => {
            if a.topics.len() > 1 {
                return Err(usage("bench: at most one -t topic"));
            }
        }
    }
    // Refuse a bad topic before connecting, naming the rule it breaks.
    let filters = matches!(a.mode, Mode::Sub);
    for t in &a.topics {
        let checked = if filters {
            topic::validate_topic_filter(t)
        } else {
            topic::validate_topic_name(t)
        };
        checked.map_err(|e| usage(format!("-t {t:?}: {e}")))?;
    }
    for t in a.filter_out.iter().chain(&a.unsubscribe) {
        topic::validate_topic_filter(t).map_err(|e| usage(format!("{t:?}: {e}")))?;
    }
    if let Some(t) = &a.response_topic {
        topic::validate_topic_name(t).map_err(|e| usage(format!("-e {t:?}: {e}")))?;
    }
    if let Some(t) = &a.will_topic {
        topic::validate_topic_name(t).map_err(|e| usage(format!("--will-topic {t:?}: {e}")))?;
    }
    if a.format.is_some() && a.json {
        return Err(usage("-F and --json contradict each other"));
    }
    if !a.clean && a.client_id.is_none() {
        return Err(usage(
            "-c needs a client id (-i): the broker keeps the session under that id",
        ));
    }
    if a.will_topic.is_none() && (a.will_payload.is_some() || a.will_retain) {
        return Err(usage("--will-payload and --will-retain need --will-topic"));
    }
    if !a.clean && a.session_expiry.is_none() {
        // As mosquitto: a kept session lasts until the broker drops it.
        a.session_expiry = Some(u32::MAX);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Result<Args, Failure> {
        let argv: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
        match parse(&argv)? {
            Parsed::Run(a) => Ok(*a),
            Parsed::Help(_) => panic!("help"),
        }
    }

    #[test]
    fn mosquitto_options_keep_their_meaning() {
        let a = args("pub -h broker -p 1884 -t a/b -m hi -q 2 -r -i me -k 5 -x 60").unwrap();
        assert_eq!(a.address(), "mqtt://broker:1884");
        assert_eq!((a.qos, a.retain, a.keepalive), (QoS::ExactlyOnce, true, 5));
        assert_eq!(a.session_expiry, Some(60));
        assert_eq!(a.source, Some(Source::Message(b"hi".to_vec())));
        let a = args("sub -t a -t b/# -v -C 3").unwrap();
        assert_eq!(a.topics, ["a", "b/#"]);
        assert_eq!(a.count, Some(3));
        // -c without -x: the session lasts until the broker drops it.
        let a = args("sub -t a -c -i keep").unwrap();
        assert_eq!(a.session_expiry, Some(u32::MAX));
    }

    #[test]
    fn properties_by_mosquitto_names() {
        let a = args(
            "pub -t t -n -D publish user-property k v -D connect session-expiry-interval 60 \
             -D publish topic-alias 3 -D will will-delay-interval 5",
        )
        .unwrap();
        assert_eq!(
            a.props.publish.user_properties().collect::<Vec<_>>(),
            [("k", "v")]
        );
        assert_eq!(
            a.props
                .connect
                .get_int(midge::codec::PropertyId::SessionExpiryInterval),
            Some(60)
        );
        assert_eq!(a.props.topic_alias, Some(3));
        assert_eq!(a.props.will.len(), 1);
        for bad in [
            "pub -t t -n -D publish session-expiry-interval 1",
            "pub -t t -n -D connect nonsense 1",
            "pub -t t -n -D publish message-expiry-interval soon",
            "pub -t t -n -D publish user-property onlykey",
        ] {
            assert_eq!(args(bad).unwrap_err().status, Status::Usage, "{bad}");
        }
    }

    #[test]
    fn urls() {
        let a = args("sub -L mqtt://u:p@host:1999/x/y").unwrap();
        assert_eq!(
            (a.host.as_str(), a.port, a.topics[0].as_str()),
            ("host", Some(1999), "x/y")
        );
        assert_eq!(
            (a.username.as_deref(), a.password.as_deref()),
            (Some("u"), Some("p"))
        );
        let a = args("pub -L mqtt://[::1]/t -n").unwrap();
        assert_eq!(a.address(), "mqtt://[::1]:1883");
        let a = args("sub -L mqtts://h/t").unwrap();
        assert_eq!(a.address(), "mqtts://h:8883");
        assert_eq!(args("sub -L http://h/t").unwrap_err().status, Status::Usage);
    }

    #[test]
    fn usage_errors_name_the_option() {
        for (line, needle) in [
            ("pub -t t -m x -q abc", "-q"),
            ("pub -m x", "-t"),
            ("pub -t t", "-m"),
            ("pub -t t -m x -n", "only one"),
            ("pub -t a/# -m x", "a/#"),
            ("sub -t a/#/b", "a/#/b"),
            ("sub -t a -p 0", "-p"),
            ("sub -t a -c", "-c"),
            ("sub -t a -R --retained-only", "-R"),
            ("rr -t a -m x", "-e"),
            ("sub -t a -k", "-k needs"),
        ] {
            let e = args(line).unwrap_err();
            assert_eq!(e.status, Status::Usage, "{line}");
            assert!(e.message.contains(needle), "{line}: {}", e.message);
        }
        assert!(args("sub -t a -V 311").unwrap().v311);
        assert!(!args("sub -t a -V 5").unwrap().v311);
        assert_eq!(
            args("sub -t a -V 31").unwrap_err().status,
            Status::Unsupported
        );
        let a = args("sub -t a --cafile ca.pem --cert c.pem --key k.pem --tls-alpn mqtt").unwrap();
        let t = a.tls.as_ref().unwrap();
        assert_eq!(t.ca, vec![Pem::File("ca.pem".into())]);
        assert_eq!(t.alpn, vec![b"mqtt".to_vec()]);
        assert_eq!(a.address(), "mqtts://localhost:8883");
        assert_eq!(
            args("sub -t a --psk 00").unwrap_err().status,
            Status::Unsupported
        );
    }
}
