//! The README's transcript of the command line (the first ```sh block of its section "The
//! `midge` command line"), run as written against a private Mosquitto: each `$ midge ...`
//! command, its output compared line by line with the lines the README shows under it, and
//! `echo $?` with the status of the command before it.
//!
//! The one change made to the commands: they reach the test's own servers. The README's
//! commands use the default port (1883, the machine's own broker, not ours to use), so the
//! private broker's port is added; a port the README names is replaced with the test's
//! server of that kind (a NATS-like listener for 4222, the private broker for the rest).
//! What cannot be the same from run to run is masked: the time a message was received in
//! `--json`, and the figures of `midge bench` (compared up to their first digit).

mod support;

use std::process::Output;

use support::mosquitto::Mosquitto;
use support::{MIDGE, nats_like, run};

/// One `$ ` command of the transcript and the lines shown after it.
struct Step {
    command: String,
    expected: Vec<String>,
}

/// The first ```sh block after the heading "## The `midge` command line".
fn transcript(readme: &str) -> Vec<Step> {
    let section = readme
        .find("## The `midge` command line")
        .expect("the README's command-line section");
    let rest = &readme[section..];
    let start = rest.find("```sh\n").expect("a sh block") + "```sh\n".len();
    let block = &rest[start..start + rest[start..].find("```").expect("the block's end")];
    let mut steps: Vec<Step> = Vec::new();
    let mut continued = false;
    for line in block.lines() {
        // A command's line ending in `\` goes on on the next one.
        let (text, more) = match line.strip_suffix('\\') {
            Some(text) => (text, true),
            None => (line, false),
        };
        if continued {
            let step = steps.last_mut().expect("a command to continue");
            step.command.push(' ');
            step.command.push_str(text.trim());
        } else if let Some(command) = text.strip_prefix("$ ") {
            steps.push(Step {
                command: command.to_string(),
                expected: Vec::new(),
            });
        } else {
            let step = steps.last_mut().expect("output after a command");
            step.expected.push(line.to_string());
            continue;
        }
        continued = more;
    }
    steps
}

/// A command's words as a POSIX shell splits them: single and double quotes, and a comment
/// from an unquoted `#` that starts a word.
fn words(command: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = command.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                let w = word.get_or_insert_with(String::new);
                for q in chars.by_ref().take_while(|&q| q != '\'') {
                    w.push(q);
                }
            }
            '"' => {
                let w = word.get_or_insert_with(String::new);
                for q in chars.by_ref().take_while(|&q| q != '"') {
                    w.push(q);
                }
            }
            '#' if word.is_none() => break,
            c if c.is_whitespace() => words.extend(word.take()),
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    words
}

/// `text` with the value of each `"received":"..."` replaced by `*`.
fn mask_received(text: &str) -> String {
    const KEY: &str = "\"received\":\"";
    match text.find(KEY) {
        Some(at) => {
            let after = &text[at + KEY.len()..];
            let end = after.find('"').map_or(after.len(), |e| e + 1);
            format!("{}{KEY}*\"{}", &text[..at], mask_received(&after[end..]))
        }
        None => text.to_string(),
    }
}

fn up_to_first_digit(line: &str) -> &str {
    &line[..line
        .find(|c: char| c.is_ascii_digit())
        .unwrap_or(line.len())]
}

#[test]
fn the_readme_transcript_runs_as_written() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("README.md");
    let steps = transcript(&readme);
    assert!(steps.len() >= 6, "the transcript has its commands");
    let broker = Mosquitto::start();
    let port = broker.port().to_string();
    let nats = nats_like().to_string();
    let mut last: Option<Output> = None;
    for step in &steps {
        let words = words(&step.command);
        if words == ["echo", "$?"] {
            let out = last.as_ref().expect("a command before `echo $?`");
            assert_eq!(
                vec![out.status.code().expect("an exit status").to_string()],
                step.expected,
                "{}",
                step.command
            );
            continue;
        }
        assert_eq!(words[0], "midge", "a midge command: {}", step.command);
        let bench = words[1] == "bench";
        let mut args: Vec<String> = words[1..].to_vec();
        // The README's port and ours, where the README names one.
        let mut ports = None;
        match args.iter().position(|a| a == "-p") {
            Some(p) => {
                let ours = if args[p + 1] == "4222" { &nats } else { &port };
                ports = Some((std::mem::replace(&mut args[p + 1], ours.clone()), ours));
            }
            None => args
                .splice(1..1, ["-p".to_string(), port.clone()])
                .for_each(drop),
        }
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = run(MIDGE, &argv, b"");
        let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&out.stderr));
        let expected: Vec<String> = step
            .expected
            .iter()
            .map(|line| match &ports {
                Some((theirs, ours)) => line.replace(&format!(":{theirs}"), &format!(":{ours}")),
                None => line.clone(),
            })
            .map(|line| mask_received(&line))
            .collect();
        let actual: Vec<String> = text.lines().map(mask_received).collect();
        if bench {
            assert!(out.status.success(), "{}: {text}", step.command);
            let cut = |lines: &[String]| -> Vec<String> {
                lines
                    .iter()
                    .map(|l| up_to_first_digit(l).to_string())
                    .collect()
            };
            assert_eq!(cut(&actual), cut(&expected), "{}", step.command);
        } else {
            assert_eq!(actual, expected, "{}", step.command);
        }
        last = Some(out);
    }
}
