//! CLI entry point: parse arguments, run the command, render the failure, map it to an exit code.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;

use airlift::cli::{Cli, advice};
use airlift::exit::Exit;

fn main() -> ExitCode {
    // Timings (`build --timings`) count from here.
    airlift::registry::run_epoch();
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if let Some(advice) = advice::spaced_boolean(&args) {
        eprintln!("error: {advice}");
        return ExitCode::from(Exit::Usage.code());
    }
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() {
                Exit::Usage.code()
            } else {
                0
            };
            let _ = e.print();
            if e.kind() == clap::error::ErrorKind::UnknownArgument
                && let Some(tip) = advice::foreign_flag(&args)
            {
                eprintln!("\n  tip: {tip}");
            }
            return ExitCode::from(code);
        }
    };
    let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let _ = miette::set_hook(Box::new(move |_| {
        Box::new(
            miette::MietteHandlerOpts::new()
                .color(color)
                .unicode(color)
                .terminal_links(false)
                .width(100)
                .build(),
        )
    }));
    match cli.run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("{:?}", failure.report);
            ExitCode::from(failure.exit.code())
        }
    }
}
