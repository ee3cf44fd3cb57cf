//! Where a run keeps what it has learnt of each file until it is needed: the located facts
//! between reading the file and running its rules, and the findings between the rules and the
//! report; and the sorted runs and tables of `crate::external`. They wait in an unnamed
//! temporary file under `$TMPDIR`, so that the process's memory does not grow with them
//! (bench/README.md). The operating system's page cache keeps the file in
//! memory while memory is plentiful and writes it out when not; on a tmpfs `$TMPDIR` it stays
//! in RAM (and counts against a container's memory limit), outside the process.
//!
//! The temporary file has no name (`O_TMPFILE` on Linux, or unlinked at once): nothing is left
//! behind, even by a killed run, and nothing is ever written in the repository. Facts are
//! written in blocks; a block that cannot be written (no temporary directory, disk full) stays
//! in memory, and so does everything put after it: nothing put is ever lost.

use crate::locate::{codec, Located};
use std::io::Write;
use std::sync::Mutex;

/// Where one form (a file's facts or findings, a block of records) was put.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpillRef {
    offset: u64,
    len: u32,
}

impl SpillRef {
    /// Written in the run's byte form, inside another form that is put away (a list of files).
    pub(crate) fn encode(self, w: &mut crate::form::Writer) {
        w.word(self.offset);
        w.number(self.len as usize);
    }

    pub(crate) fn decode(r: &mut crate::form::Reader) -> Option<SpillRef> {
        Some(SpillRef {
            offset: r.word()?,
            len: r.number_u32()?,
        })
    }
}

#[cfg(test)]
impl SpillRef {
    /// The same length one byte further: a place where no form starts.
    pub fn shifted_for_test(self) -> SpillRef {
        SpillRef {
            offset: self.offset + 1,
            ..self
        }
    }
}

pub struct Spill {
    store: Mutex<Store>,
}

struct Store {
    /// `None` when no temporary file could be made.
    file: Option<std::fs::File>,
    /// Writing to the file failed: what it holds stays readable, nothing more is written.
    failed: bool,
    /// Bytes written to the file: the facts at offsets below this are there.
    written: u64,
    /// The facts put after those: written out a block at a time while the file works.
    pending: Vec<u8>,
    block: usize,
}

/// How much is gathered before it is written: few writes, little held.
const BLOCK: usize = 1 << 16;

/// Facts of a file larger than this stay in memory with the file (a file of that size is
/// not a hand-written manifest, and `SpillRef` holds a 32-bit length).
const MAX_SPILLED: usize = u32::MAX as usize;

impl Spill {
    pub fn new() -> Spill {
        // Facts are read back by offset (`FileExt::read_exact_at`), which is Unix's; elsewhere
        // they stay in memory.
        let file = if cfg!(unix) {
            tempfile::tempfile().ok()
        } else {
            None
        };
        Spill::with(file, BLOCK)
    }

    fn with(file: Option<std::fs::File>, block: usize) -> Spill {
        Spill {
            store: Mutex::new(Store {
                file,
                failed: false,
                written: 0,
                pending: Vec::new(),
                block,
            }),
        }
    }

    /// Puts `located` away; `None` when it could not be (then the caller keeps it).
    pub fn put(&self, located: &Located) -> Option<SpillRef> {
        let mut bytes = Vec::new();
        codec::encode(located, &mut bytes);
        self.put_bytes(&bytes)
    }

    /// Puts a sealed form (`crate::form`) away; `None` when it could not be.
    pub fn put_bytes(&self, bytes: &[u8]) -> Option<SpillRef> {
        if bytes.len() > MAX_SPILLED {
            return None;
        }
        let mut store = self.store.lock().ok()?;
        let offset = store.written + store.pending.len() as u64;
        store.pending.extend_from_slice(bytes);
        if store.pending.len() >= store.block {
            store.write_pending();
        }
        Some(SpillRef {
            offset,
            len: bytes.len() as u32,
        })
    }

    /// Done putting: what was put can be taken back from the returned reader, on any thread.
    pub fn finish(self) -> SpillReader {
        let mut store = self
            .store
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        store.write_pending();
        store.pending.shrink_to_fit();
        SpillReader {
            file: store.file,
            written: store.written,
            pending: store.pending,
        }
    }
}

impl Store {
    /// Writes what is pending to the file; on failure keeps it, and all that follows, here.
    fn write_pending(&mut self) {
        let Some(file) = &mut self.file else { return };
        if self.failed || self.pending.is_empty() {
            return;
        }
        // A failed write may have written part of the block: the file's length is then
        // unknown, so the block is read from memory and nothing more goes to the file.
        match file.write_all(&self.pending) {
            Ok(()) => {
                self.written += self.pending.len() as u64;
                self.pending.clear();
            }
            Err(_) => self.failed = true,
        }
    }
}

pub struct SpillReader {
    file: Option<std::fs::File>,
    written: u64,
    pending: Vec<u8>,
}

/// Unit tests of a whole run damage what the run keeps of a file whose path holds `mark`, to
/// see what the run does then: never in a build that is not a test.
pub(crate) fn damaged_in_test(path: &str, mark: &str) -> bool {
    cfg!(test) && path.contains(mark)
}

impl SpillReader {
    /// The facts put at `at` for the file at `path`; an error when they cannot be read back
    /// whole.
    pub fn get(&self, at: SpillRef, path: &str) -> Result<Located, String> {
        self.decoded(at, "facts", |bytes| {
            codec::decode(bytes).filter(|_| !damaged_in_test(path, "facts-damaged-by-test"))
        })
    }

    /// What was put at `at`, made again by `decode` from its form; an error that names `what`
    /// it was when it cannot be read back whole.
    pub fn decoded<T>(
        &self,
        at: SpillRef,
        what: &str,
        decode: impl FnOnce(&[u8]) -> Option<T>,
    ) -> Result<T, String> {
        let len = at.len as usize;
        // Forms are put whole into the pending block, and blocks are written whole: a form is
        // either all in the file or all in memory.
        let decoded =
            match (&self.file, at.offset.checked_sub(self.written)) {
                (_, Some(in_memory)) => usize::try_from(in_memory)
                    .ok()
                    .and_then(|start| self.pending.get(start..start.checked_add(len)?))
                    .and_then(decode),
                (Some(file), None) => decode(&read_at(file, at.offset, len).map_err(|e| {
                    format!("cannot read back its {what} from a temporary file: {e}")
                })?),
                // Below `written` with no file: nothing was ever written, so nothing is there.
                (None, None) => None,
            };
        decoded
            .ok_or_else(|| format!("its {what}, kept by manifix while it ran, came back damaged"))
    }
}

#[cfg(unix)]
fn read_at(file: &std::fs::File, offset: u64, len: usize) -> std::io::Result<Vec<u8>> {
    use std::os::unix::fs::FileExt;
    let mut bytes = vec![0; len];
    file.read_exact_at(&mut bytes, offset)?;
    Ok(bytes)
}

#[cfg(not(unix))]
fn read_at(_: &std::fs::File, _: u64, _: usize) -> std::io::Result<Vec<u8>> {
    Err(std::io::Error::other(
        "kept in a temporary file only on Unix",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn located(text: &str) -> Located {
        let parsed = crate::yaml::parse(text).expect("valid yaml");
        crate::locate::locate(&parsed, "d.yaml")
    }

    const TEXTS: [&str; 4] = [
        "kind: Deployment\nspec:\n  containers:\n    - image: a:latest\n",
        "kind: ServiceAccount\nmetadata:\n  name: x\n",
        "",
        "kind: Kustomization\nimages:\n  - name: a\n    newName: 123456789012.dkr.ecr.us-east-1.amazonaws.com/a\n",
    ];

    /// Puts every sample `rounds` times, calling `between` after each round.
    fn put_all(
        spill: &Spill,
        rounds: usize,
        mut between: impl FnMut(usize, &Spill),
    ) -> Vec<(usize, SpillRef)> {
        let mut refs = Vec::new();
        for round in 0..rounds {
            for (i, text) in TEXTS.iter().enumerate() {
                refs.push((i, spill.put(&located(text)).expect("put")));
            }
            between(round, spill);
        }
        refs
    }

    /// Reads every fact back, last first (as workers may), and a wrong place is refused.
    fn read_all(reader: &SpillReader, refs: &[(usize, SpillRef)]) {
        for (i, at) in refs.iter().rev() {
            let back = reader.get(*at, "a.yaml").expect("read back");
            let want = located(TEXTS[*i]);
            assert_eq!(format!("{:?}", back.sites), format!("{:?}", want.sites));
            assert_eq!(format!("{:?}", back.docs), format!("{:?}", want.docs));
        }
        let (_, first) = refs[0];
        let shifted = SpillRef {
            offset: first.offset + 1,
            len: first.len,
        };
        assert!(
            reader.get(shifted, "a.yaml").is_err(),
            "a wrong place is not misread"
        );
    }

    #[test]
    fn facts_come_back_from_a_temporary_file() {
        let spill = Spill::with(Some(tempfile::tempfile().expect("tempfile")), 100);
        let refs = put_all(&spill, 20, |_, _| {});
        let reader = spill.finish();
        read_all(&reader, &refs);
        assert!(reader.file.is_some() && reader.written > 0);
        assert!(reader.pending.is_empty(), "the last block is written too");
    }

    #[test]
    fn facts_come_back_from_memory_without_a_temporary_file() {
        let spill = Spill::with(None, 100);
        let refs = put_all(&spill, 20, |_, _| {});
        let reader = spill.finish();
        read_all(&reader, &refs);
        assert_eq!(reader.written, 0);
    }

    /// A disk that fills up: every write fails (`/dev/full`), and what could not be written
    /// is read from memory.
    #[test]
    fn facts_that_cannot_be_written_come_back_from_memory() {
        let full = std::fs::OpenOptions::new().write(true).open("/dev/full");
        let Ok(full) = full else {
            eprintln!("no /dev/full here: skipped");
            return;
        };
        let spill = Spill::with(Some(full), 100);
        let refs = put_all(&spill, 20, |_, _| {});
        let reader = spill.finish();
        read_all(&reader, &refs);
        assert_eq!(reader.written, 0);
        assert!(!reader.pending.is_empty(), "held in memory");
    }

    /// Writes that work for a while and then fail: what was written is read from the file,
    /// the rest from memory.
    #[test]
    fn facts_written_before_a_failure_stay_readable() {
        let named = tempfile::NamedTempFile::new().expect("tempfile");
        let spill = Spill::with(Some(named.reopen().expect("reopen")), 100);
        let refs = put_all(&spill, 20, |round, spill| {
            if round == 9 {
                // The same file, but read-only from now on: every write fails.
                let read_only = std::fs::File::open(named.path()).expect("open");
                spill.store.lock().expect("lock").file = Some(read_only);
            }
        });
        let reader = spill.finish();
        read_all(&reader, &refs);
        assert!(reader.written > 0, "the first rounds went to the file");
        assert!(!reader.pending.is_empty(), "the rest stayed in memory");
        assert!(refs.iter().any(|(_, r)| r.offset < reader.written));
        assert!(refs.iter().any(|(_, r)| r.offset >= reader.written));
    }
}
