//! Thin binary: parse arguments, run, map the outcome to an exit status
//! (0 clean, 1 findings or changes needed, 2 error). A closed pipe is not an error.

use clap::Parser;
use manifix::cli::Cli;
use manifix::commands::{self, EXIT_CLEAN, EXIT_ERROR};
use std::io::{self, Write};
use std::process::ExitCode;

// mimalloc, not glibc's malloc: files are parsed on every core and the facts kept of each are
// freed by whichever thread is done with them; glibc serialises such frees on its arena locks
// (a third of a large run went to malloc, free and the lock waits; bench/README.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod allocator_options {
    use std::os::raw::{c_int, c_long};

    extern "C" {
        fn mi_option_set(option: c_int, value: c_long);
    }

    // Option numbers of mimalloc 3 (`mi_option_e` in include/mimalloc.h of libmimalloc-sys
    // =0.1.49, pinned in Cargo.toml); the test below checks them against their defaults.
    const ARENA_EAGER_COMMIT: c_int = 4;
    const PURGE_DELAY: c_int = 15;
    const ALLOW_THP: c_int = 43;

    #[cfg(target_os = "linux")]
    extern "C" {
        fn prctl(option: c_int, ...) -> c_int;
    }

    /// `PR_SET_THP_DISABLE` of <linux/prctl.h>.
    #[cfg(target_os = "linux")]
    const PR_SET_THP_DISABLE: c_int = 41;

    /// Memory is committed only when used, and freed memory goes back to the system: at once
    /// for a run over one repository, whose peak memory is a target of the tool
    /// (bench/README.md); after 10 ms for `bulk` (`many_runs`), where purging at once cost a
    /// third of its speed, re-faulting what each repository's run had just freed. (mimalloc's
    /// own default is a second.)
    pub fn set(many_runs: bool) {
        // SAFETY: mi_option_set only stores a value in mimalloc's option table; it is
        // documented as callable at any time, from any thread.
        unsafe {
            mi_option_set(PURGE_DELAY, if many_runs { 10 } else { 0 });
            mi_option_set(ARENA_EAGER_COMMIT, 0);
        }
    }

    /// No transparent huge pages: where the system gives them on request (`madvise`, a
    /// common default), mimalloc asks for them, and memory is then held and returned in 2 MiB
    /// pieces: a fifth of the peak memory of a run over 100k files, and 12 MB of a run over
    /// a few files, for no measurable speed (bench/README.md). Called first thing in `main`,
    /// before most of the memory the process will use is touched.
    pub fn no_huge_pages() {
        // SAFETY: as above.
        unsafe {
            // Memory mimalloc maps from now on is not marked for huge pages...
            mi_option_set(ALLOW_THP, 0);
        }
        // ...and none of the process's memory gets them, including what mimalloc mapped
        // before `main` (its option is read when it starts, before this runs).
        #[cfg(target_os = "linux")]
        // SAFETY: PR_SET_THP_DISABLE takes integer arguments and changes only the process's
        // huge-page flag; on a kernel without it the call fails, and is then a no-op.
        unsafe {
            use std::os::raw::c_ulong;
            prctl(
                PR_SET_THP_DISABLE,
                1 as c_ulong,
                0 as c_ulong,
                0 as c_ulong,
                0 as c_ulong,
            );
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        extern "C" {
            fn mi_option_get(option: c_int) -> c_long;
        }

        /// The numbers name the options meant: their defaults are the documented ones (a
        /// mimalloc that renumbered its options would fail here, not silently mis-set).
        #[test]
        fn option_numbers_match_mimalloc() {
            // SAFETY: reading mimalloc's option table.
            unsafe {
                assert_eq!(
                    mi_option_get(PURGE_DELAY),
                    1000,
                    "purge_delay defaults to 1 s"
                );
                assert_eq!(
                    mi_option_get(ARENA_EAGER_COMMIT),
                    2,
                    "arena_eager_commit defaults to 2"
                );
                assert_eq!(mi_option_get(ALLOW_THP), 1, "allow_thp defaults to 1");
            }
        }
    }
}

fn main() -> ExitCode {
    allocator_options::no_huge_pages();
    // A write past `ulimit -f` then fails with EFBIG, reported like any failed write (the
    // temporary file removed, the original untouched), instead of killing the process.
    #[cfg(unix)]
    // SAFETY: only sets SIGXFSZ's disposition to "ignore", before any other thread exists.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
    let cli = Cli::parse();
    allocator_options::set(matches!(cli.command, manifix::cli::Command::Bulk(_)));
    let stdout = io::stdout();
    let stderr = io::stderr();
    let mut out = io::BufWriter::new(stdout.lock());
    let mut err = stderr.lock();
    let result = commands::run(cli, &mut out, &mut err).and_then(|code| {
        out.flush()?;
        Ok(code)
    });
    match result {
        Ok(code) => ExitCode::from(code),
        Err(commands::AppError::Io(e)) if e.kind() == io::ErrorKind::BrokenPipe => {
            ExitCode::from(EXIT_CLEAN)
        }
        Err(e) => {
            let _ = writeln!(err, "error: {:#}", anyhow::Error::from(e));
            ExitCode::from(EXIT_ERROR)
        }
    }
}
