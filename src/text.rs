//! Byte offsets to the 1-based line and column users see.

pub struct LineIndex<'a> {
    starts: Vec<usize>,
    text_len: usize,
    bom: bool,
    // The text is needed to count characters, not bytes, within a line. Borrowed: an index
    // is made for every file a run reports on, and lives no longer than its text.
    text: &'a str,
}

impl<'a> LineIndex<'a> {
    pub fn new(text: &'a str) -> LineIndex<'a> {
        // Bytes, not chars: a newline byte is never inside a multi-byte character. Counted
        // first, so the list is allocated once at its size (an index is made for every file
        // a run reports on).
        let newlines = || memchr::memchr_iter(b'\n', text.as_bytes());
        let mut starts = Vec::with_capacity(1 + newlines().count());
        starts.push(0);
        starts.extend(newlines().map(|i| i + 1));
        LineIndex {
            starts,
            text_len: text.len(),
            bom: text.starts_with('\u{feff}'),
            text,
        }
    }

    /// 1-based line and column (columns count characters; a BOM is not a column).
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text_len);
        let line = self.starts.partition_point(|&s| s <= offset).max(1);
        let mut start = self.starts[line - 1];
        if line == 1 && self.bom {
            start = start.max('\u{feff}'.len_utf8()).min(offset);
        }
        let column = self
            .text
            .get(start..offset)
            .map_or(offset - start, |s| s.chars().count())
            + 1;
        (line, column)
    }
}

/// A hash that is the same on every machine and every run (FNV-1a, 64 bits): for picking a
/// repository's shard and fingerprinting a recipe, where std's randomised hasher would not do.
pub fn stable_hash(text: &str) -> u64 {
    stable_hash_bytes(text.as_bytes())
}

/// A hash of a file's bytes, to tell whether a file read again is the one analysed: eight
/// bytes per step (FNV's byte-at-a-time multiply chain was a few percent of a large run).
/// Not for anything kept across runs or machines.
pub fn content_hash(bytes: &[u8]) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325 ^ bytes.len() as u64;
    let mut words = bytes.chunks_exact(8);
    for chunk in &mut words {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        hash = (hash ^ u64::from_le_bytes(word))
            .wrapping_mul(0x9e37_79b9_7f4a_7c15)
            .rotate_left(29);
    }
    for &byte in words.remainder() {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

fn stable_hash_bytes(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::{content_hash, stable_hash, LineIndex};

    /// Every one-byte change, in the word-sized part and in the tail, and every change of
    /// length, changes the content hash.
    #[test]
    fn content_hash_sees_every_small_change() {
        let text = b"image: 465002806239.dkr.ecr.ap-southeast-2.amazonaws.com/app:v1\n".to_vec();
        let original = content_hash(&text);
        for i in 0..text.len() {
            let mut changed = text.clone();
            changed[i] ^= 1;
            assert_ne!(content_hash(&changed), original, "byte {i}");
        }
        assert_ne!(content_hash(&text[..text.len() - 1]), original);
        let mut longer = text.clone();
        longer.push(0);
        assert_ne!(content_hash(&longer), original);
        assert_ne!(content_hash(b""), content_hash(b"\0"));
    }

    #[test]
    fn stable_hash_is_fnv1a() {
        assert_eq!(stable_hash(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(stable_hash("a"), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn counts_lines_and_characters() {
        let idx = LineIndex::new("\u{feff}a: 1\nbé: x\n");
        assert_eq!(idx.line_col(3), (1, 1));
        assert_eq!(idx.line_col(8), (2, 1));
        assert_eq!(idx.line_col(13), (2, 5));
    }
}
