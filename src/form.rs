//! The compact byte form a run keeps data in while it waits in the run's spill
//! (`engine::spill`): numbers are LEB128 varints, strings a length and their UTF-8 bytes,
//! options and flags a byte. A sealed form ends with a 64-bit check value of what it holds, so
//! that a damaged form is refused rather than misread. A form lives only as long as one run:
//! it has no version.

/// Bytes of the check value at the end of a sealed form.
const CHECK_BYTES: usize = 8;

fn check_value(form: &[u8]) -> u64 {
    crate::text::content_hash(form)
}

/// Ends the form written to `out` since `start` with its check value.
pub(crate) fn seal(out: &mut Vec<u8>, start: usize) {
    let check = check_value(&out[start..]);
    out.extend_from_slice(&check.to_le_bytes());
}

/// What a sealed form holds; `None` when `bytes` is not one: cut, padded, or changed (as far
/// as a 64-bit check value tells).
pub(crate) fn unseal(bytes: &[u8]) -> Option<Reader<'_>> {
    let (form, check) = bytes.split_at_checked(bytes.len().checked_sub(CHECK_BYTES)?)?;
    (check_value(form).to_le_bytes() == check).then_some(Reader { bytes: form })
}

pub(crate) struct Writer<'a> {
    pub(crate) out: &'a mut Vec<u8>,
}

impl Writer<'_> {
    pub(crate) fn byte(&mut self, b: u8) {
        self.out.push(b);
    }

    pub(crate) fn number(&mut self, mut n: usize) {
        loop {
            let low = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                self.out.push(low);
                return;
            }
            self.out.push(low | 0x80);
        }
    }

    pub(crate) fn text(&mut self, s: &str) {
        self.bytes(s.as_bytes());
    }

    /// Bytes that need not be text (a path on Unix): their length and themselves.
    pub(crate) fn bytes(&mut self, b: &[u8]) {
        self.number(b.len());
        self.out.extend_from_slice(b);
    }

    /// A 64-bit number written whole (a hash: a varint would take more bytes, not fewer).
    pub(crate) fn word(&mut self, n: u64) {
        self.out.extend_from_slice(&n.to_le_bytes());
    }

    pub(crate) fn optional(&mut self, s: Option<&str>) {
        match s {
            None => self.byte(0),
            Some(s) => {
                self.byte(1);
                self.text(s);
            }
        }
    }
}

pub(crate) struct Reader<'a> {
    pub(crate) bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.bytes.split_first()?;
        self.bytes = rest;
        Some(b)
    }

    pub(crate) fn flag(&mut self) -> Option<bool> {
        match self.byte()? {
            0 => Some(false),
            1 => Some(true),
            _ => None,
        }
    }

    pub(crate) fn number(&mut self) -> Option<usize> {
        let mut n: usize = 0;
        for shift in (0..usize::BITS).step_by(7) {
            let b = self.byte()?;
            n |= usize::from(b & 0x7f).checked_shl(shift)?;
            if b & 0x80 == 0 {
                return Some(n);
            }
        }
        None
    }

    /// A number that fits in 32 bits (an index or a length the writer kept in 32 bits).
    pub(crate) fn number_u32(&mut self) -> Option<u32> {
        u32::try_from(self.number()?).ok()
    }

    /// A number of items to come, each taking at least `min_bytes`: a count the bytes left
    /// cannot hold is not believed (and never sizes a list).
    pub(crate) fn count(&mut self, min_bytes: usize) -> Option<usize> {
        self.number().filter(|&n| {
            n.checked_mul(min_bytes)
                .is_some_and(|b| b <= self.bytes.len())
        })
    }

    pub(crate) fn text(&mut self) -> Option<String> {
        String::from_utf8(self.bytes()?.to_vec()).ok()
    }

    pub(crate) fn bytes(&mut self) -> Option<&'a [u8]> {
        let len = self.number()?;
        if len > self.bytes.len() {
            return None;
        }
        let (taken, rest) = self.bytes.split_at(len);
        self.bytes = rest;
        Some(taken)
    }

    pub(crate) fn word(&mut self) -> Option<u64> {
        let (word, rest) = self.bytes.split_first_chunk::<8>()?;
        self.bytes = rest;
        Some(u64::from_le_bytes(*word))
    }

    pub(crate) fn optional(&mut self) -> Option<Option<String>> {
        match self.byte()? {
            0 => Some(None),
            1 => self.text().map(Some),
            _ => None,
        }
    }
}
