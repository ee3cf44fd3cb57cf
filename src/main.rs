//! Thin binary: parse arguments, run, map the outcome to an exit status
//! (0 clean, 1 findings or changes needed, 2 error). A closed pipe is not an error.

use clap::Parser;
use manifix::app::{self, EXIT_CLEAN, EXIT_ERROR};
use manifix::cli::Cli;
use std::io::{self, Write};
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let stdout = io::stdout();
    let stderr = io::stderr();
    let mut out = io::BufWriter::new(stdout.lock());
    let mut err = stderr.lock();
    let result = app::run(cli, &mut out, &mut err).and_then(|code| {
        out.flush()?;
        Ok(code)
    });
    match result {
        Ok(code) => ExitCode::from(code),
        Err(app::AppError::Io(e)) if e.kind() == io::ErrorKind::BrokenPipe => {
            ExitCode::from(EXIT_CLEAN)
        }
        Err(e) => {
            let _ = writeln!(err, "error: {:#}", anyhow::Error::from(e));
            ExitCode::from(EXIT_ERROR)
        }
    }
}
