//! How `sub` and `rr` print a message: the payload alone, `-v` (topic and payload), `-F`
//! (mosquitto_sub's format language) or `--json` (every property, one object a line).

use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use midge::codec::{Property, PropertyId};
use midge::protocol::Message;

/// The chosen output form.
#[derive(Debug, Clone)]
pub enum Style {
    Payload,
    Verbose,
    Format(String),
    Json,
}

/// Appends `m` to `out` in `style`, with the final newline unless `no_eol`.
pub fn render(style: &Style, m: &Message, no_eol: bool, out: &mut Vec<u8>) {
    match style {
        // As mosquitto_sub: an empty payload prints nothing, not even the newline.
        Style::Payload if m.payload.is_empty() => return,
        Style::Payload => out.extend_from_slice(&m.payload),
        // mosquitto_sub prints nothing for an empty payload with -v -N.
        Style::Verbose if m.payload.is_empty() && no_eol => return,
        Style::Verbose => {
            out.extend_from_slice(m.topic.as_bytes());
            out.push(b' ');
            if m.payload.is_empty() {
                out.extend_from_slice(b"(null)");
            } else {
                out.extend_from_slice(&m.payload);
            }
        }
        Style::Format(f) => format(f, m, &Now::get(), out),
        Style::Json => json(m, &Now::get(), out),
    }
    if !no_eol {
        out.push(b'\n');
    }
}

/// The wall-clock time of a message, taken once.
struct Now {
    secs: i64,
    nanos: u32,
}

impl Now {
    fn get() -> Self {
        let d = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        Self {
            secs: d.as_secs().try_into().unwrap_or(i64::MAX),
            nanos: d.subsec_nanos(),
        }
    }

    /// `strftime` of the local time.
    fn strftime(&self, format: &str) -> String {
        let Ok(format) = std::ffi::CString::new(format) else {
            return String::new();
        };
        let t: libc::time_t = self.secs as libc::time_t;
        // SAFETY: an all-zero `tm` is a valid value of this plain C struct.
        let mut tm: libc::tm = unsafe { std::mem::zeroed() };
        // SAFETY: both pointers are to live locals of the right types; localtime_r is the
        // thread-safe form and writes only `tm`.
        if unsafe { libc::localtime_r(&raw const t, &raw mut tm) }.is_null() {
            return String::new();
        }
        let mut buf = [0u8; 256];
        // SAFETY: `buf` is writable for its length, `format` is NUL-terminated and `tm` was
        // filled by localtime_r; strftime writes at most `buf.len()` bytes and returns how many.
        let n = unsafe {
            libc::strftime(
                buf.as_mut_ptr().cast(),
                buf.len(),
                format.as_ptr(),
                &raw const tm,
            )
        };
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }

    /// ISO 8601 with the UTC offset, as mosquitto_sub's `%I`.
    fn iso(&self) -> String {
        self.strftime("%Y-%m-%dT%H:%M:%S%z")
    }
}

/// Flags, width and precision of one `%` sequence.
#[derive(Default)]
struct Spec {
    left: bool,
    zero: bool,
    width: usize,
    precision: Option<usize>,
}

impl Spec {
    /// An absent value: the width in blanks (zeros with `0`, where numbers allow it).
    fn blank(&self, zero_ok: bool, out: &mut Vec<u8>) {
        let fill = if self.zero && zero_ok && !self.left {
            b'0'
        } else {
            b' '
        };
        out.resize(out.len() + self.width, fill);
    }

    /// Pads (and cuts, with a precision) `value` as printf would.
    fn apply(&self, value: &[u8], zero_ok: bool, cut_ok: bool, out: &mut Vec<u8>) {
        let value = match self.precision {
            Some(p) if cut_ok && value.len() > p => &value[..p],
            _ => value,
        };
        let pad = self.width.saturating_sub(value.len());
        if self.left {
            out.extend_from_slice(value);
            out.resize(out.len() + pad, b' ');
        } else {
            let fill = if self.zero && zero_ok { b'0' } else { b' ' };
            out.resize(out.len() + pad, fill);
            out.extend_from_slice(value);
        }
    }
}

fn hex(bytes: &[u8], upper: bool) -> Vec<u8> {
    let digits: &[u8; 16] = if upper {
        b"0123456789ABCDEF"
    } else {
        b"0123456789abcdef"
    };
    let mut s = Vec::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(digits[usize::from(b >> 4)]);
        s.push(digits[usize::from(b & 15)]);
    }
    s
}

/// mosquitto_sub's `-F`: `%` message fields, `@` strftime, `\` escapes.
fn format(f: &str, m: &Message, now: &Now, out: &mut Vec<u8>) {
    let props = &m.properties;
    let mut chars = f.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '%' => {
                let mut spec = Spec::default();
                while let Some(&flag @ ('-' | '0')) = chars.peek() {
                    if flag == '-' {
                        spec.left = true;
                    } else {
                        spec.zero = true;
                    }
                    chars.next();
                }
                while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
                    spec.width = spec.width * 10 + d as usize;
                    chars.next();
                }
                if chars.peek() == Some(&'.') {
                    chars.next();
                    let mut p = 0;
                    while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
                        p = p * 10 + d as usize;
                        chars.next();
                    }
                    spec.precision = Some(p);
                }
                let Some(kind) = chars.next() else {
                    break;
                };
                let text = |id| props.get_str(id).map(|s| s.as_bytes().to_vec());
                let int = |id| props.get_int(id).map(|v| v.to_string().into_bytes());
                match kind {
                    '%' => out.push(b'%'),
                    // Topic Aliases are resolved before the message reaches us: always
                    // absent, so blank.
                    'A' => spec.blank(true, out),
                    'C' => match text(PropertyId::ContentType) {
                        Some(v) => spec.apply(&v, false, true, out),
                        None => spec.blank(false, out),
                    },
                    'D' => {
                        if let Some(v) = props.get_binary(PropertyId::CorrelationData) {
                            out.extend_from_slice(v);
                        }
                    }
                    'E' => match int(PropertyId::MessageExpiryInterval) {
                        Some(v) => spec.apply(&v, true, false, out),
                        None => spec.blank(true, out),
                    },
                    'F' => match int(PropertyId::PayloadFormatIndicator) {
                        Some(v) => spec.apply(&v, true, false, out),
                        None => spec.blank(true, out),
                    },
                    'l' => spec.apply(m.payload.len().to_string().as_bytes(), true, false, out),
                    'm' => spec.apply(m.packet_id.to_string().as_bytes(), true, false, out),
                    'P' => {
                        let mut first = true;
                        for (k, v) in props.user_properties() {
                            if !first {
                                out.push(b' ');
                            }
                            first = false;
                            out.extend_from_slice(k.as_bytes());
                            out.push(b':');
                            out.extend_from_slice(v.as_bytes());
                        }
                    }
                    // As mosquitto_sub, a width also cuts the payload.
                    'p' => {
                        let end = if spec.width > 0 {
                            m.payload.len().min(spec.width)
                        } else {
                            m.payload.len()
                        };
                        spec.apply(&m.payload[..end], true, false, out);
                    }
                    'q' => out.extend_from_slice((m.qos as u8).to_string().as_bytes()),
                    'R' => {
                        if let Some(v) = text(PropertyId::ResponseTopic) {
                            spec.apply(&v, false, true, out);
                        }
                    }
                    'r' => out.push(if m.retain { b'1' } else { b'0' }),
                    // The first Subscription Identifier, as mosquitto_sub.
                    'S' => match props.subscription_identifiers().next() {
                        Some(id) => spec.apply(id.to_string().as_bytes(), true, false, out),
                        None => spec.blank(true, out),
                    },
                    't' => spec.apply(m.topic.as_bytes(), false, true, out),
                    'x' => spec.apply(&hex(&m.payload, false), true, false, out),
                    'X' => spec.apply(&hex(&m.payload, true), true, false, out),
                    'I' => spec.apply(now.iso().as_bytes(), false, true, out),
                    'U' => {
                        let _ = write_bytes(out, format_args!("{}.{:09}", now.secs, now.nanos));
                    }
                    'j' => mosquitto_json(m, now, false, out),
                    'J' if m.payload.is_empty() || json::valid(&m.payload) => {
                        mosquitto_json(m, now, true, out);
                    }
                    'J' => eprintln!(
                        "Error: Message payload is not valid JSON on topic {}.",
                        m.topic
                    ),
                    other => {
                        out.push(b'%');
                        let mut b = [0; 4];
                        out.extend_from_slice(other.encode_utf8(&mut b).as_bytes());
                    }
                }
            }
            '@' => match chars.next() {
                Some('@') => out.push(b'@'),
                Some('N') => {
                    let _ = write_bytes(out, format_args!("{:09}", now.nanos));
                }
                Some(x) => out.extend_from_slice(now.strftime(&format!("%{x}")).as_bytes()),
                None => out.push(b'@'),
            },
            '\\' => match chars.next() {
                Some('\\') => out.push(b'\\'),
                Some('0') => out.push(0),
                Some('a') => out.push(7),
                Some('e') => out.push(0x1b),
                Some('n') => out.push(b'\n'),
                Some('r') => out.push(b'\r'),
                Some('t') => out.push(b'\t'),
                Some('v') => out.push(0x0b),
                Some(x) => {
                    out.push(b'\\');
                    let mut b = [0; 4];
                    out.extend_from_slice(x.encode_utf8(&mut b).as_bytes());
                }
                None => out.push(b'\\'),
            },
            c => {
                let mut b = [0; 4];
                out.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
            }
        }
    }
}

fn write_bytes(out: &mut Vec<u8>, args: std::fmt::Arguments<'_>) -> std::fmt::Result {
    let mut s = String::new();
    s.write_fmt(args)?;
    out.extend_from_slice(s.as_bytes());
    Ok(())
}

/// `bytes` as the inside of a JSON string: quotes, backslashes and control characters
/// escaped, other bytes (even invalid UTF-8) as they are, as mosquitto_sub's `%j` does.
fn json_escape(bytes: &[u8], out: &mut Vec<u8>) {
    for &b in bytes {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            b if b < 0x20 => {
                let _ = write_bytes(out, format_args!("\\u{b:04x}"));
            }
            b => out.push(b),
        }
    }
}

fn json_str(s: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    json_escape(s, out);
    out.push(b'"');
}

/// The `"properties"` object of mosquitto_sub's `%j`: in the message's order, named as
/// `-D` names them, user properties gathered in one object where they first appear.
fn mosquitto_json_properties(m: &Message, out: &mut Vec<u8>) {
    if m.properties.is_empty() {
        return;
    }
    out.extend_from_slice(b",\"properties\":{");
    let mut first = true;
    let mut key = |name: &str, out: &mut Vec<u8>| {
        if !first {
            out.push(b',');
        }
        first = false;
        let _ = write_bytes(out, format_args!("\"{name}\":"));
    };
    let users: Vec<(&str, &str)> = m.properties.user_properties().collect();
    let mut users_done = false;
    for p in &m.properties {
        match p {
            Property::PayloadFormatIndicator(f) => {
                key("payload-format-indicator", out);
                let _ = write_bytes(out, format_args!("{}", *f as u8));
            }
            Property::MessageExpiryInterval(s) => {
                key("message-expiry-interval", out);
                let _ = write_bytes(out, format_args!("{s}"));
            }
            Property::ContentType(s) => {
                key("content-type", out);
                json_str(s.as_bytes(), out);
            }
            Property::ResponseTopic(s) => {
                key("response-topic", out);
                json_str(s.as_bytes(), out);
            }
            Property::CorrelationData(b) => {
                key("correlation-data", out);
                // mosquitto reads it as a C string: up to the first NUL.
                let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
                json_str(&b[..end], out);
            }
            Property::SubscriptionIdentifier(i) => {
                key("subscription-identifier", out);
                let _ = write_bytes(out, format_args!("{i}"));
            }
            Property::UserProperty(..) if !users_done => {
                users_done = true;
                key("user-properties", out);
                out.push(b'{');
                for (n, (k, v)) in users.iter().enumerate() {
                    if n > 0 {
                        out.push(b',');
                    }
                    json_str(k.as_bytes(), out);
                    out.push(b':');
                    json_str(v.as_bytes(), out);
                }
                out.push(b'}');
            }
            _ => {}
        }
    }
    out.push(b'}');
}

/// mosquitto_sub's `%j` (`raw`: `%J`, the payload inserted as JSON).
fn mosquitto_json(m: &Message, now: &Now, raw: bool, out: &mut Vec<u8>) {
    let tst = format!(
        "{}.{:06}Z{}",
        now.strftime("%Y-%m-%dT%H:%M:%S"),
        now.nanos / 1000,
        now.strftime("%z")
    );
    let _ = write_bytes(out, format_args!("{{\"tst\":\"{tst}\",\"topic\":"));
    json_str(m.topic.as_bytes(), out);
    let _ = write_bytes(
        out,
        format_args!(
            ",\"qos\":{},\"retain\":{},\"payloadlen\":{}",
            m.qos as u8,
            u8::from(m.retain),
            m.payload.len()
        ),
    );
    if m.qos as u8 > 0 {
        let _ = write_bytes(out, format_args!(",\"mid\":{}", m.packet_id));
    }
    mosquitto_json_properties(m, out);
    out.extend_from_slice(b",\"payload\":");
    if m.payload.is_empty() {
        out.extend_from_slice(b"null");
    } else if raw {
        out.extend_from_slice(&m.payload);
    } else {
        json_str(&m.payload, out);
    }
    out.push(b'}');
}

/// Standard base64 with padding.
pub fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(chunk.get(1).copied().unwrap_or(0)) << 8)
            | u32::from(chunk.get(2).copied().unwrap_or(0));
        for i in 0..4 {
            if i <= chunk.len() {
                s.push(char::from(A[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                s.push('=');
            }
        }
    }
    s
}

/// A binary value as `"name":"…"` plus `"name_encoding":"utf-8"|"base64"`.
fn json_binary(name: &str, bytes: &[u8], out: &mut Vec<u8>) {
    let _ = write_bytes(out, format_args!(",\"{name}\":"));
    if let Ok(s) = std::str::from_utf8(bytes) {
        json_str(s.as_bytes(), out);
        let _ = write_bytes(out, format_args!(",\"{name}_encoding\":\"utf-8\""));
    } else {
        json_str(base64(bytes).as_bytes(), out);
        let _ = write_bytes(out, format_args!(",\"{name}_encoding\":\"base64\""));
    }
}

/// `--json`: one object with the message and every property it carries.
fn json(m: &Message, now: &Now, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"topic\":");
    json_str(m.topic.as_bytes(), out);
    json_binary("payload", &m.payload, out);
    let _ = write_bytes(
        out,
        format_args!(
            ",\"qos\":{},\"retain\":{},\"dup\":{},\"packet_id\":{}",
            m.qos as u8, m.retain, m.dup, m.packet_id
        ),
    );
    let mut users = Vec::new();
    let mut sub_ids = Vec::new();
    for p in &m.properties {
        match p {
            Property::PayloadFormatIndicator(f) => {
                let _ = write_bytes(
                    out,
                    format_args!(",\"payload_format_indicator\":{}", *f as u8),
                );
            }
            Property::MessageExpiryInterval(s) => {
                let _ = write_bytes(out, format_args!(",\"message_expiry_interval\":{s}"));
            }
            Property::ContentType(s) => {
                out.extend_from_slice(b",\"content_type\":");
                json_str(s.as_bytes(), out);
            }
            Property::ResponseTopic(s) => {
                out.extend_from_slice(b",\"response_topic\":");
                json_str(s.as_bytes(), out);
            }
            Property::CorrelationData(b) => json_binary("correlation_data", b, out),
            Property::UserProperty(k, v) => users.push((k, v)),
            Property::SubscriptionIdentifier(i) => sub_ids.push(*i),
            _ => {}
        }
    }
    if !users.is_empty() {
        out.extend_from_slice(b",\"user_properties\":[");
        for (i, (k, v)) in users.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.push(b'[');
            json_str(k.as_bytes(), out);
            out.push(b',');
            json_str(v.as_bytes(), out);
            out.push(b']');
        }
        out.push(b']');
    }
    if !sub_ids.is_empty() {
        let ids: Vec<String> = sub_ids.iter().map(ToString::to_string).collect();
        let _ = write_bytes(
            out,
            format_args!(",\"subscription_identifiers\":[{}]", ids.join(",")),
        );
    }
    let _ = write_bytes(
        out,
        format_args!(
            ",\"received\":\"{}.{:06}{}\"}}",
            now.strftime("%Y-%m-%dT%H:%M:%S"),
            now.nanos / 1000,
            now.strftime("%z")
        ),
    );
}

/// A JSON syntax check for `%J`, which inserts the payload as it is.
mod json {
    /// Whether `b` is exactly one JSON value, with optional whitespace around it.
    pub fn valid(b: &[u8]) -> bool {
        let mut p = Parser { b, i: 0 };
        p.ws();
        p.value(0) && {
            p.ws();
            p.i == b.len()
        }
    }

    struct Parser<'a> {
        b: &'a [u8],
        i: usize,
    }

    impl Parser<'_> {
        fn peek(&self) -> Option<u8> {
            self.b.get(self.i).copied()
        }

        fn ws(&mut self) {
            while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
                self.i += 1;
            }
        }

        fn eat(&mut self, c: u8) -> bool {
            self.ws();
            if self.peek() == Some(c) {
                self.i += 1;
                true
            } else {
                false
            }
        }

        fn value(&mut self, depth: usize) -> bool {
            if depth > 1000 {
                return false;
            }
            self.ws();
            match self.peek() {
                Some(b'{') => self.seq(b'}', depth, true),
                Some(b'[') => self.seq(b']', depth, false),
                Some(b'"') => self.string(),
                Some(b't') => self.word(b"true"),
                Some(b'f') => self.word(b"false"),
                Some(b'n') => self.word(b"null"),
                Some(b'-' | b'0'..=b'9') => self.number(),
                _ => false,
            }
        }

        /// An object (`keyed`) or an array, from its opening bracket.
        fn seq(&mut self, close: u8, depth: usize, keyed: bool) -> bool {
            self.i += 1;
            if self.eat(close) {
                return true;
            }
            loop {
                if keyed {
                    self.ws();
                    if !(self.string() && self.eat(b':')) {
                        return false;
                    }
                }
                if !self.value(depth + 1) {
                    return false;
                }
                if self.eat(close) {
                    return true;
                }
                if !self.eat(b',') {
                    return false;
                }
            }
        }

        fn string(&mut self) -> bool {
            if self.peek() != Some(b'"') {
                return false;
            }
            self.i += 1;
            while let Some(c) = self.peek() {
                self.i += 1;
                match c {
                    b'"' => return true,
                    b'\\' => self.i += 1,
                    c if c < 0x20 => return false,
                    _ => {}
                }
            }
            false
        }

        fn word(&mut self, w: &[u8]) -> bool {
            if self.b[self.i..].starts_with(w) {
                self.i += w.len();
                true
            } else {
                false
            }
        }

        fn number(&mut self) -> bool {
            let start = self.i;
            while matches!(
                self.peek(),
                Some(b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
            ) {
                self.i += 1;
            }
            std::str::from_utf8(&self.b[start..self.i]).is_ok_and(|n| n.parse::<f64>().is_ok())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        let cases = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (plain, coded) in cases {
            assert_eq!(base64(plain.as_bytes()), coded);
        }
    }

    #[test]
    fn json_check() {
        for good in [
            &b"{}"[..],
            b" [1, -2.5e3, \"a\\\"b\", true, null, {\"k\": []}] ",
            b"0",
        ] {
            assert!(json::valid(good), "{}", String::from_utf8_lossy(good));
        }
        for bad in [
            &b""[..],
            b"x",
            b"{",
            b"[1,]",
            b"{\"a\" 1}",
            b"1 2",
            b"\"unterminated",
        ] {
            assert!(!json::valid(bad), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn padding_and_cutting() {
        let mut out = Vec::new();
        Spec {
            width: 6,
            precision: Some(2),
            ..Spec::default()
        }
        .apply(b"abcdef", false, true, &mut out);
        assert_eq!(out, b"    ab");
        out.clear();
        Spec {
            left: true,
            zero: true,
            width: 4,
            ..Spec::default()
        }
        .apply(b"7", true, false, &mut out);
        assert_eq!(out, b"7   ");
    }
}
