//! `--format github`: GitHub Actions workflow commands, which the runner turns into annotations
//! on the pull request: `::error file=PATH,line=L,col=C,title=RULE::MESSAGE`.

use crate::engine::Run;
use crate::finding::Severity;
use std::io::{self, Write};

/// Escapes a command's data (the part after `::`): line breaks as the runner decodes them,
/// other control characters (an ESC in a file name) shown as escapes in the log.
pub fn escape_data(s: &str) -> String {
    let s = s
        .replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A");
    crate::escape::control(&s).into_owned()
}

/// Escapes a property value, where `:` and `,` would end the value.
pub fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

fn command(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "notice",
    }
}

/// One command per finding, then file errors, unreachable sources and skipped files that may
/// hide a problem, then the summary as a plain log line.
pub fn report(out: &mut dyn Write, run: &Run) -> io::Result<()> {
    for f in run.findings() {
        writeln!(
            out,
            "::{} file={},line={},col={},title={}::{}",
            command(f.severity),
            escape_property(&f.path),
            f.line,
            f.column,
            escape_property(f.rule),
            escape_data(&f.message)
        )?;
    }
    for e in &run.errors {
        write!(out, "::error file={}", escape_property(&e.path))?;
        if e.line >= 1 {
            write!(out, ",line={},col={}", e.line, e.column.max(1))?;
        }
        writeln!(out, ",title=manifix::{}", escape_data(&e.message))?;
    }
    for e in &run.source_errors {
        writeln!(out, "::error title=manifix::{}", escape_data(e))?;
    }
    for s in run.skipped.iter().filter(|s| s.warning) {
        writeln!(
            out,
            "::warning file={},title=manifix::skipped: {}",
            escape_property(&s.path),
            escape_data(&s.reason)
        )?;
    }
    writeln!(out, "{}", super::text::run_summary(run))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        assert_eq!(escape_data("100% a:b,c\r\nd"), "100%25 a:b,c%0D%0Ad");
        assert_eq!(escape_property("a:b,c%"), "a%3Ab%2Cc%25");
        assert_eq!(escape_data("a\x1b[2J\tb"), "a\\x1b[2J\\tb");
    }
}
