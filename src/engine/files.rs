//! The run's list of files, kept in a spill (`spill`) a slice at a time rather than in memory:
//! each pass of a run reads it back a slice at a time, in path order. What a file's entry
//! takes in memory (its path, its hash, where its facts and findings were put) was the largest
//! part of a large run's memory, and grew with every file of the repository.
//!
//! A slice is written in the run's byte form (`crate::form`) and sealed, so that a damaged
//! slice is refused, never misread. A slice that cannot be written in that form (its facts
//! or findings had to stay in memory, or a path has no byte form here) stays in memory whole.

use super::found::FileFindings;
use super::spill::{Spill, SpillReader, SpillRef};
use super::{Analyzed, FileError, Held};
use crate::discover::FileEntry;
use crate::form::{Reader, Writer};
use crate::yaml::Comment;
use std::path::Path;
use std::sync::Arc;

/// Files in path order, a slice at a time.
#[derive(Debug, Default)]
pub struct FileList {
    slices: Vec<Slice>,
    /// The bases of the entries' locations (`FileEntry::encode`): one per path of the run.
    bases: Vec<Arc<Path>>,
}

#[derive(Debug)]
struct Slice {
    /// How many files it holds.
    files: usize,
    /// The path of its first file: where an error names a slice that cannot be read back.
    first: Box<str>,
    kept: Kept,
}

#[derive(Debug)]
enum Kept {
    Spilled(SpillRef),
    Here(Vec<Analyzed>),
}

impl FileList {
    /// How many files it holds.
    pub(super) fn len(&self) -> usize {
        self.slices.iter().map(|s| s.files).sum()
    }

    /// The files a slice at a time, in order, each slice with the index of its first file;
    /// read from `reader`, the reader of the spill the list was written to. A slice that
    /// cannot be read back is an error naming its first file.
    pub(super) fn slices<'a>(&'a self, reader: Option<&'a SpillReader>) -> Slices<'a> {
        Slices {
            list: self,
            reader,
            next: 0,
            first_index: 0,
        }
    }

    /// The paths of the files at `indexes` (ascending), reading back only the slices that
    /// hold them. The files of a slice that cannot be read back are left out: a pass that
    /// reads every slice reports it.
    pub(super) fn paths_at(
        &self,
        reader: Option<&SpillReader>,
        indexes: &[u32],
    ) -> Vec<(u32, String)> {
        let mut out = Vec::with_capacity(indexes.len());
        let mut wanted = indexes.iter().map(|&i| i as usize).peekable();
        let mut first_index = 0;
        for slice in &self.slices {
            let end = first_index + slice.files;
            if wanted.peek().is_some_and(|&i| i < end) {
                let files = self.read(slice, reader).unwrap_or_default();
                while let Some(i) = wanted.next_if(|&i| i < end) {
                    if let Some(file) = i.checked_sub(first_index).and_then(|at| files.get(at)) {
                        out.push((i as u32, file.entry.rel.clone()));
                    }
                }
            }
            first_index = end;
        }
        out
    }

    /// The files of `slice`, read back from `reader` when they were put there.
    fn read(
        &self,
        slice: &Slice,
        reader: Option<&SpillReader>,
    ) -> Result<Vec<Analyzed>, FileError> {
        match &slice.kept {
            Kept::Here(files) => Ok(files.clone()),
            Kept::Spilled(at) => match reader {
                Some(reader) => reader.decoded(*at, "list of files", |bytes| {
                    decode_slice(bytes, &self.bases, slice.files).filter(|_| {
                        !super::spill::damaged_in_test(&slice.first, "list-damaged-by-test")
                    })
                }),
                None => Err("its list of files was not kept".to_string()),
            }
            .map_err(|message| slice_not_checked(&slice.first, slice.files, &message)),
        }
    }
}

/// The error of a slice of `files` files, the first at `first`, that could not be read back
/// (or whose facts could not): one error for the slice, saying how many files it held.
pub(super) fn slice_not_checked(first: &str, files: usize, message: &str) -> FileError {
    FileError::whole_file(
        first,
        format!(
            "{message}: neither this file nor the {} after it in path order were checked or fixed",
            files.saturating_sub(1)
        ),
    )
}

/// See `FileList::slices`.
pub struct Slices<'a> {
    list: &'a FileList,
    reader: Option<&'a SpillReader>,
    next: usize,
    first_index: usize,
}

impl Iterator for Slices<'_> {
    type Item = (usize, Result<Vec<Analyzed>, FileError>);

    fn next(&mut self) -> Option<Self::Item> {
        let slice = self.list.slices.get(self.next)?;
        self.next += 1;
        let first_index = self.first_index;
        self.first_index += slice.files;
        Some((first_index, self.list.read(slice, self.reader)))
    }
}

/// Writes a `FileList`: files are pushed in order and put away a slice at a time.
pub(super) struct FileListWriter {
    list: FileList,
    pending: Vec<Analyzed>,
    slice_len: usize,
}

impl FileListWriter {
    /// A list put away `slice_len` files at a time: the slices its readers take.
    pub(super) fn new(slice_len: usize) -> FileListWriter {
        FileListWriter {
            list: FileList::default(),
            pending: Vec::with_capacity(slice_len),
            slice_len: slice_len.max(1),
        }
    }

    /// Adds the next file, in path order; its slice is put in `spill` once it is full.
    pub(super) fn push(&mut self, file: Analyzed, spill: &Spill) {
        self.pending.push(file);
        if self.pending.len() >= self.slice_len {
            self.put_pending(spill);
        }
    }

    /// Done: the last slice is put away too.
    pub(super) fn finish(mut self, spill: &Spill) -> FileList {
        self.put_pending(spill);
        self.list.slices.shrink_to_fit();
        self.list
    }

    fn put_pending(&mut self, spill: &Spill) {
        let Some(first) = self.pending.first() else {
            return;
        };
        let first: Box<str> = first.entry.rel.as_str().into();
        let files = std::mem::replace(&mut self.pending, Vec::with_capacity(self.slice_len));
        let mut bytes = Vec::new();
        let spilled = encode_slice(&files, &mut self.list.bases, &mut bytes)
            .then(|| spill.put_bytes(&bytes))
            .flatten();
        self.list.slices.push(Slice {
            files: files.len(),
            first,
            kept: match spilled {
                Some(at) => Kept::Spilled(at),
                None => Kept::Here(files),
            },
        });
    }
}

/// Appends the sealed byte form of `files` to `out`; `false` when one of them has none.
fn encode_slice(files: &[Analyzed], bases: &mut Vec<Arc<Path>>, out: &mut Vec<u8>) -> bool {
    let start = out.len();
    let mut w = Writer { out: &mut *out };
    for file in files {
        if !encode_file(file, bases, &mut w) {
            return false;
        }
    }
    crate::form::seal(out, start);
    true
}

fn encode_file(file: &Analyzed, bases: &mut Vec<Arc<Path>>, w: &mut Writer) -> bool {
    if !file.entry.encode(w, bases) {
        return false;
    }
    w.byte(u8::from(file.relevant));
    w.word(file.hash);
    w.number(file.comments.len());
    for comment in &file.comments {
        w.number(comment.offset);
        w.text(&comment.text);
    }
    match &file.located {
        Held::None => w.byte(0),
        Held::Spilled(at) => {
            w.byte(1);
            at.encode(w);
        }
        Held::Here(_) => return false,
    }
    match &file.found {
        FileFindings::None => w.byte(0),
        FileFindings::Spilled(at) => {
            w.byte(1);
            at.encode(w);
        }
        FileFindings::Here(_) => return false,
    }
    true
}

/// The `files` files of a slice written by `encode_slice`; `None` when `bytes` is not that.
fn decode_slice(bytes: &[u8], bases: &[Arc<Path>], files: usize) -> Option<Vec<Analyzed>> {
    let mut r = crate::form::unseal(bytes)?;
    // Each file takes at least a byte: a count its bytes cannot hold sizes no list.
    let mut out = Vec::with_capacity(files.min(r.bytes.len()));
    for _ in 0..files {
        out.push(decode_file(&mut r, bases)?);
    }
    r.bytes.is_empty().then_some(out)
}

fn decode_file(r: &mut Reader, bases: &[Arc<Path>]) -> Option<Analyzed> {
    let entry = FileEntry::decode(r, bases)?;
    let relevant = r.flag()?;
    let hash = r.word()?;
    // A comment takes at least two bytes (its offset and its length).
    let count = r.count(2)?;
    let mut comments = Vec::with_capacity(count);
    for _ in 0..count {
        let offset = r.number()?;
        let text = r.text()?;
        comments.push(Comment { text, offset });
    }
    let located = match r.byte()? {
        0 => Held::None,
        1 => Held::Spilled(SpillRef::decode(r)?),
        _ => return None,
    };
    let found = match r.byte()? {
        0 => FileFindings::None,
        1 => FileFindings::Spilled(SpillRef::decode(r)?),
        _ => return None,
    };
    Some(Analyzed {
        entry,
        relevant,
        hash,
        comments,
        located,
        found,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discover::FileKind;
    use std::path::PathBuf;

    /// A file as load makes it, with a comment and its facts and findings put in `spill`.
    fn file(base: &Arc<Path>, walked: &Path, rel: &str, spill: &Spill) -> Analyzed {
        Analyzed {
            entry: FileEntry::new(base, walked, rel.into(), FileKind::Yaml),
            relevant: rel.len().is_multiple_of(2),
            hash: (rel.len() as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15),
            comments: vec![Comment {
                text: format!(" manifix: ignore[mutable-tag] {rel}"),
                offset: rel.len(),
            }],
            located: Held::Spilled(spill.put_bytes(rel.as_bytes()).expect("put")),
            found: if rel.starts_with('a') {
                FileFindings::Spilled(spill.put_bytes(b"found").expect("put"))
            } else {
                FileFindings::None
            },
        }
    }

    /// Files of every kind of location: under two bases, walked elsewhere, and (on Unix) a
    /// name that is not UTF-8.
    fn sample(spill: &Spill) -> Vec<Analyzed> {
        let root: Arc<Path> = Arc::from(Path::new("/repo"));
        let other: Arc<Path> = Arc::from(Path::new("/other/checkout"));
        let mut files = vec![
            file(&root, Path::new("/repo/a/b.yaml"), "a/b.yaml", spill),
            file(&other, Path::new("/other/checkout/c.yaml"), "c.yaml", spill),
            file(&root, Path::new("./a/d.yaml"), "a/d.yaml", spill),
            file(
                &root,
                Path::new("/repo/e/kustomization.yaml"),
                "e/kustomization.yaml",
                spill,
            ),
        ];
        #[cfg(unix)]
        {
            use std::os::unix::ffi::OsStrExt;
            let walked = PathBuf::from(std::ffi::OsStr::from_bytes(b"/repo/f/\xffx.yaml"));
            files.push(file(&root, &walked, "f/\u{fffd}x.yaml", spill));
        }
        files
    }

    fn shown(files: &[Analyzed]) -> Vec<String> {
        files
            .iter()
            .map(|f| format!("{:?} {f:?}", f.entry.abs()))
            .collect()
    }

    /// Every file of `list`, read back slice by slice.
    fn read_all(list: &FileList, reader: &SpillReader) -> Vec<Analyzed> {
        list.slices(Some(reader))
            .flat_map(|(_, s)| s.expect("read back"))
            .collect()
    }

    fn written(files: &[Analyzed], slice_len: usize, spill: &Spill) -> FileList {
        let mut list = FileListWriter::new(slice_len);
        for file in files {
            list.push(file.clone(), spill);
        }
        list.finish(spill)
    }

    #[test]
    fn files_come_back_as_they_were_put_a_slice_at_a_time() {
        let spill = Spill::new();
        let files = sample(&spill);
        let list = written(&files, 2, &spill);
        let reader = spill.finish();
        assert_eq!(list.len(), files.len());
        assert!(list
            .slices
            .iter()
            .all(|s| matches!(s.kept, Kept::Spilled(_))));
        let mut firsts = Vec::new();
        let mut back = Vec::new();
        for (first, slice) in list.slices(Some(&reader)) {
            firsts.push(first);
            back.extend(slice.expect("read back"));
        }
        assert_eq!(firsts, (0..files.len()).step_by(2).collect::<Vec<_>>());
        assert_eq!(shown(&back), shown(&files));
        // Read twice, as a run's passes do.
        assert_eq!(shown(&read_all(&list, &reader)), shown(&files));
    }

    #[test]
    fn a_damaged_slice_is_an_error_of_its_first_file_and_the_others_come_back() {
        let spill = Spill::new();
        let files = sample(&spill);
        let mut list = written(&files, 2, &spill);
        let reader = spill.finish();
        if let Kept::Spilled(at) = &mut list.slices[1].kept {
            *at = at.shifted_for_test();
        }
        let back: Vec<_> = list.slices(Some(&reader)).collect();
        let error = back[1].1.as_ref().expect_err("damaged");
        assert_eq!(error.path, files[2].entry.rel);
        assert!(
            error.message.contains("list of files") && error.message.contains("the 1 after it"),
            "{}",
            error.message
        );
        assert_eq!(
            shown(back[0].1.as_ref().expect("first slice")),
            shown(&files[..2])
        );
        assert_eq!(
            shown(back[2].1.as_ref().expect("last slice")),
            shown(&files[4..])
        );
        // Without the reader of the spill it was put in, nothing is misread either.
        assert!(list.slices(None).all(|(_, s)| s.is_err()));
    }

    /// Facts that had to stay in memory keep their slice in memory, whole.
    #[test]
    fn a_slice_with_facts_in_memory_stays_in_memory() {
        let spill = Spill::new();
        let mut files = sample(&spill);
        files[1].located = Held::Here(Box::default());
        let list = written(&files, 2, &spill);
        let reader = spill.finish();
        assert!(matches!(list.slices[0].kept, Kept::Here(_)));
        assert!(matches!(list.slices[1].kept, Kept::Spilled(_)));
        assert_eq!(shown(&read_all(&list, &reader)), shown(&files));
    }

    /// Every cut, and every changed byte, of a slice's form is refused.
    #[test]
    fn a_cut_or_changed_form_is_refused() {
        let spill = Spill::new();
        let files = sample(&spill);
        let mut bases = Vec::new();
        let mut bytes = Vec::new();
        assert!(encode_slice(&files, &mut bases, &mut bytes));
        assert!(decode_slice(&bytes, &bases, files.len()).is_some());
        assert!(decode_slice(&bytes, &bases, files.len() + 1).is_none());
        assert!(decode_slice(&bytes, &bases, files.len() - 1).is_none());
        for cut in 0..bytes.len() {
            assert!(decode_slice(&bytes[..cut], &bases, files.len()).is_none());
        }
        for at in 0..bytes.len() {
            let mut changed = bytes.clone();
            changed[at] ^= 0x20;
            assert!(decode_slice(&changed, &bases, files.len()).is_none());
        }
    }
}
