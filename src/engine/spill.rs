//! Where a run keeps each file's located facts between reading the file and running its
//! rules: in an unnamed temporary file, so that memory does not grow with the repository
//! (bench/README.md). The operating system's page cache keeps it in memory while memory is
//! plentiful; the process does not.
//!
//! The temporary file has no name (`O_TMPFILE` on Linux): nothing is left behind, even by a
//! killed run, and nothing is ever written in the repository. Where no temporary file can be
//! made, the facts are kept in memory in their compact form instead.

use crate::locate::{codec, Located};
use std::io::Write;
use std::sync::Mutex;

/// Where one file's facts were put.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpillRef {
    offset: u64,
    len: u32,
}

pub struct Spill {
    store: Mutex<Store>,
}

enum Store {
    /// Appended to through a buffer; read back by offset once `finish` has flushed it.
    File {
        writer: std::io::BufWriter<std::fs::File>,
        len: u64,
        /// A write failed (disk full): the file's length is no longer known, so nothing more
        /// is put in it.
        broken: bool,
    },
    Memory(Vec<u8>),
}

/// Facts of a file larger than this stay in memory with the file (a file of that size is
/// not a hand-written manifest, and `SpillRef` holds a 32-bit length).
const MAX_SPILLED: usize = u32::MAX as usize;

impl Spill {
    pub fn new() -> Spill {
        let store = match tempfile::tempfile() {
            Ok(file) => Store::File {
                writer: std::io::BufWriter::with_capacity(1 << 16, file),
                len: 0,
                broken: false,
            },
            Err(_) => Store::Memory(Vec::new()),
        };
        Spill {
            store: Mutex::new(store),
        }
    }

    /// Puts `located` away; `None` when it could not be (then the caller keeps it).
    pub fn put(&self, located: &Located) -> Option<SpillRef> {
        let mut bytes = Vec::new();
        codec::encode(located, &mut bytes);
        if bytes.len() > MAX_SPILLED {
            return None;
        }
        let mut store = self.store.lock().ok()?;
        let offset = match &mut *store {
            Store::File {
                writer,
                len,
                broken,
            } => {
                let offset = *len;
                if *broken || writer.write_all(&bytes).is_err() {
                    // Disk full or gone: what was written before stays readable (when
                    // flushing works), and callers keep their files' facts themselves.
                    *broken = true;
                    return None;
                }
                *len += bytes.len() as u64;
                offset
            }
            Store::Memory(all) => {
                let offset = all.len() as u64;
                all.extend_from_slice(&bytes);
                offset
            }
        };
        Some(SpillRef {
            offset,
            len: bytes.len() as u32,
        })
    }

    /// Done putting: what was put can be taken back from the returned reader, on any thread.
    pub fn finish(self) -> SpillReader {
        let store = self
            .store
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match store {
            Store::File { writer, .. } => match writer.into_inner() {
                Ok(file) => SpillReader::File(file),
                Err(e) => SpillReader::Lost(e.error().to_string()),
            },
            Store::Memory(all) => SpillReader::Memory(all),
        }
    }
}

pub enum SpillReader {
    File(std::fs::File),
    Memory(Vec<u8>),
    /// The temporary file could not be written out: what was put there is gone.
    Lost(String),
}

impl SpillReader {
    /// The facts put at `at`; an error when they cannot be read back whole.
    pub fn get(&self, at: SpillRef) -> Result<Located, String> {
        let len = at.len as usize;
        let decoded = match self {
            SpillReader::File(file) => {
                use std::os::unix::fs::FileExt;
                let mut bytes = vec![0; len];
                file.read_exact_at(&mut bytes, at.offset).map_err(|e| {
                    format!("cannot read back its facts from a temporary file: {e}")
                })?;
                codec::decode(&bytes)
            }
            SpillReader::Memory(all) => usize::try_from(at.offset)
                .ok()
                .and_then(|start| all.get(start..start.checked_add(len)?))
                .and_then(codec::decode),
            SpillReader::Lost(e) => {
                return Err(format!(
                    "cannot read back its facts: writing a temporary file failed: {e}"
                ))
            }
        };
        decoded.ok_or_else(|| "its facts read back from a temporary file are damaged".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn located(text: &str) -> Located {
        let parsed = crate::yaml::parse(text).expect("valid yaml");
        crate::locate::locate(&parsed, "d.yaml")
    }

    #[test]
    fn facts_come_back_from_the_file_and_from_memory_alike() {
        let texts = [
            "kind: Deployment\nspec:\n  containers:\n    - image: a:latest\n",
            "kind: ServiceAccount\nmetadata:\n  name: x\n",
            "",
        ];
        let file = Spill::new();
        assert!(matches!(*file.store.lock().unwrap(), Store::File { .. }));
        let memory = Spill {
            store: Mutex::new(Store::Memory(Vec::new())),
        };
        for spill in [file, memory] {
            let refs: Vec<_> = texts
                .iter()
                .map(|t| spill.put(&located(t)).expect("put"))
                .collect();
            let reader = spill.finish();
            // Out of order, as workers ask for them.
            for (i, at) in refs.iter().enumerate().rev() {
                let back = reader.get(*at).expect("read back");
                let want = located(texts[i]);
                assert_eq!(format!("{:?}", back.sites), format!("{:?}", want.sites));
                assert_eq!(format!("{:?}", back.docs), format!("{:?}", want.docs));
            }
            let wrong = SpillRef {
                offset: refs[0].offset + 1,
                len: refs[0].len,
            };
            assert!(reader.get(wrong).is_err());
        }
    }
}
