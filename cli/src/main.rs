//! `midge`: pub, sub, rr and bench over midge's Rust API, with mosquitto_pub/sub's options.

mod args;
mod bench;
mod connect;
mod fail;
mod help;
mod output;
mod publish;
mod rr;
mod subscribe;

use std::io::Write as _;
use std::process::ExitCode;

use args::{Mode, Parsed};

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let args = match args::parse(&argv) {
        Ok(Parsed::Run(a)) => a,
        Ok(Parsed::Help(text)) => {
            let _ = std::io::stdout().write_all(text.as_bytes());
            return ExitCode::SUCCESS;
        }
        Err(f) => {
            eprintln!("midge: {}", f.message);
            return ExitCode::from(f.status as u8);
        }
    };
    let result = match args.mode {
        Mode::Pub => publish::run(&args),
        Mode::Sub => subscribe::run(&args),
        Mode::Rr => rr::run(&args),
        Mode::Bench => bench::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            if !args.quiet {
                eprintln!("midge {}: {}", help::name(args.mode), f.message);
            }
            ExitCode::from(f.status as u8)
        }
    }
}
