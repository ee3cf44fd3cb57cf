//! A compact byte form of one file's findings, so that a large run can keep them out of memory
//! (`engine::spill`) between its rules and its report, and read them back exactly as they
//! were. Written in the run's byte form (`crate::form`, which seals it with a check value).
//!
//! The file's path is not written (the reader knows which file it asked for), and a rule is
//! written as its place in a list of rule IDs the run keeps (`RuleIds`), since an ID is a
//! `&'static str` that bytes cannot give back.

use super::{Applicability, Finding, Fix, Severity};
use crate::form::{Reader, Writer};
use crate::yaml::splice::ScalarEdit;

/// The rule IDs met so far, each once: a finding's rule is written as its place here.
/// Shared by the workers that write findings.
#[derive(Debug, Default)]
pub struct RuleIds {
    ids: std::sync::Mutex<Vec<&'static str>>,
}

impl RuleIds {
    /// The places of `rules`, each added when met for the first time.
    fn places(&self, rules: impl Iterator<Item = &'static str>) -> Vec<usize> {
        let mut ids = self.known();
        rules
            .map(|id| match ids.iter().position(|known| *known == id) {
                Some(at) => at,
                None => {
                    ids.push(id);
                    ids.len() - 1
                }
            })
            .collect()
    }

    fn known(&self) -> std::sync::MutexGuard<'_, Vec<&'static str>> {
        // The list is only ever pushed to: a worker that panicked left it whole.
        self.ids
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// An inline patch's edit carries the edit of the document inside it, and nothing deeper is
/// ever made: a form that nests further is not one this module wrote.
const MAX_EDIT_DEPTH: usize = 4;

/// The fewest bytes a finding and an edit take in the form: what a count is checked against
/// before it sizes a list.
const MIN_FINDING_BYTES: usize = 8;
const MIN_EDIT_BYTES: usize = 5;

/// Appends the byte form of `findings` (all of one file) to `out`.
pub fn encode(findings: &[Finding], rules: &RuleIds, out: &mut Vec<u8>) {
    let start = out.len();
    let places = rules.places(findings.iter().map(|f| f.rule));
    let mut w = Writer { out: &mut *out };
    w.number(findings.len());
    for (f, place) in findings.iter().zip(places) {
        w.number(place);
        w.byte(match f.severity {
            Severity::Info => 0,
            Severity::Warning => 1,
            Severity::Error => 2,
        });
        w.number(f.range.start);
        w.number(f.range.end);
        w.number(f.line);
        w.number(f.column);
        w.text(&f.message);
        match &f.fix {
            None => w.byte(0),
            Some(fix) => {
                w.byte(1);
                w.fix(fix);
            }
        }
    }
    crate::form::seal(out, start);
}

/// The findings `encode` wrote, with `path` as their path; `None` when `bytes` is not such a
/// form (cut, padded, or changed, as far as a 64-bit check value tells) or names a rule
/// `rules` does not hold.
pub fn decode(bytes: &[u8], path: &str, rules: &RuleIds) -> Option<Vec<Finding>> {
    let mut r = crate::form::unseal(bytes)?;
    let rules = rules.known();
    let mut findings = Vec::with_capacity(r.count(MIN_FINDING_BYTES)?);
    for _ in 0..findings.capacity() {
        findings.push(Finding {
            rule: rules.get(r.number()?).copied()?,
            severity: match r.byte()? {
                0 => Severity::Info,
                1 => Severity::Warning,
                2 => Severity::Error,
                _ => return None,
            },
            path: path.to_string(),
            range: r.number()?..r.number()?,
            line: r.number()?,
            column: r.number()?,
            message: r.text()?,
            fix: match r.byte()? {
                0 => None,
                1 => Some(Box::new(r.fix()?)),
                _ => return None,
            },
        });
    }
    r.bytes.is_empty().then_some(findings)
}

impl Writer<'_> {
    fn fix(&mut self, fix: &Fix) {
        self.text(&fix.title);
        self.byte(match fix.applicability {
            Applicability::Safe => 0,
            Applicability::Unsafe => 1,
        });
        self.text(&fix.replacement);
        self.optional(fix.detail.as_deref());
        self.number(fix.edits.len());
        for edit in &fix.edits {
            self.edit(edit);
        }
        self.number(fix.append_images.len());
        for entry in &fix.append_images {
            self.number(entry.len());
            for (key, value) in entry {
                self.text(key);
                self.text(value);
            }
        }
    }

    fn edit(&mut self, edit: &ScalarEdit) {
        self.number(edit.ordinal);
        self.number(edit.range.start);
        self.number(edit.range.end);
        self.text(&edit.replacement);
        match &edit.inner {
            None => self.byte(0),
            Some(inner) => {
                self.byte(1);
                self.edit(inner);
            }
        }
    }
}

impl Reader<'_> {
    fn fix(&mut self) -> Option<Fix> {
        let title = self.text()?;
        let applicability = match self.byte()? {
            0 => Applicability::Safe,
            1 => Applicability::Unsafe,
            _ => return None,
        };
        let replacement = self.text()?;
        let detail = self.optional()?;
        let mut edits = Vec::with_capacity(self.count(MIN_EDIT_BYTES)?);
        for _ in 0..edits.capacity() {
            edits.push(self.edit(0)?);
        }
        let mut append_images = Vec::with_capacity(self.count(1)?);
        for _ in 0..append_images.capacity() {
            let pairs = self.count(2)?;
            let entry = (0..pairs)
                .map(|_| Some((self.text()?, self.text()?)))
                .collect::<Option<Vec<_>>>()?;
            append_images.push(entry);
        }
        Some(Fix {
            title,
            applicability,
            replacement,
            detail,
            edits,
            append_images,
        })
    }

    fn edit(&mut self, depth: usize) -> Option<ScalarEdit> {
        if depth > MAX_EDIT_DEPTH {
            return None;
        }
        Some(ScalarEdit {
            ordinal: self.number()?,
            range: self.number()?..self.number()?,
            replacement: self.text()?,
            inner: match self.byte()? {
                0 => None,
                1 => Some(Box::new(self.edit(depth + 1)?)),
                _ => return None,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<Finding> {
        let mut plain = Finding::new(
            "ecr-region",
            Severity::Info,
            "apps/a.yaml",
            3..9,
            "a note with \"quotes\", é and a\nline break".into(),
        );
        (plain.line, plain.column) = (2, 5);
        let mut fixed = Finding::new(
            "placeholder-account",
            Severity::Error,
            "apps/a.yaml",
            40..52,
            "placeholder account".into(),
        );
        (fixed.line, fixed.column) = (7, 30);
        fixed.fix = Some(Box::new(Fix {
            title: "replace the account".into(),
            applicability: Applicability::Safe,
            replacement: "210987654321".into(),
            detail: Some("from manifix.yaml".into()),
            edits: vec![
                ScalarEdit {
                    ordinal: 12,
                    range: 0..12,
                    replacement: "210987654321".into(),
                    inner: None,
                },
                ScalarEdit {
                    ordinal: 30,
                    range: 100..112,
                    replacement: "210987654321".into(),
                    inner: Some(Box::new(ScalarEdit {
                        ordinal: 2,
                        range: 13..25,
                        replacement: "210987654321".into(),
                        inner: None,
                    })),
                },
            ],
            append_images: vec![vec![
                ("name".into(), "app".into()),
                ("newTag".into(), "main-0123".into()),
            ]],
        }));
        let mut unsafe_fix = fixed.clone();
        unsafe_fix.rule = "mutable-tag";
        unsafe_fix.severity = Severity::Warning;
        if let Some(fix) = &mut unsafe_fix.fix {
            fix.applicability = Applicability::Unsafe;
            fix.detail = None;
            fix.edits.clear();
        }
        vec![plain, fixed, unsafe_fix]
    }

    /// Every field of every finding, as text: what a round trip must keep.
    fn shown(findings: &[Finding]) -> String {
        format!("{findings:#?}")
    }

    #[test]
    fn findings_read_back_are_the_findings_written() {
        let rules = RuleIds::default();
        let findings = sample();
        let mut bytes = Vec::new();
        encode(&findings, &rules, &mut bytes);
        let back = decode(&bytes, "apps/a.yaml", &rules).expect("decodes");
        assert_eq!(shown(&back), shown(&findings));
        // Rules are kept once each, in the order met.
        assert_eq!(
            *rules.known(),
            ["ecr-region", "placeholder-account", "mutable-tag"]
        );
        let mut none = Vec::new();
        encode(&[], &rules, &mut none);
        assert!(decode(&none, "b.yaml", &rules).expect("decodes").is_empty());
    }

    #[test]
    fn a_damaged_form_is_refused() {
        let rules = RuleIds::default();
        let mut bytes = Vec::new();
        encode(&sample(), &rules, &mut bytes);
        for len in 0..bytes.len() {
            assert!(decode(&bytes[..len], "a", &rules).is_none(), "cut at {len}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode(&longer, "a", &rules).is_none());
        for at in 0..bytes.len() {
            let mut changed = bytes.clone();
            changed[at] ^= 0x10;
            assert!(decode(&changed, "a", &rules).is_none(), "byte {at} changed");
        }
        // A rule the run never kept is refused, even in a well-sealed form.
        assert!(decode(&bytes, "a", &RuleIds::default()).is_none());
        // A count the bytes cannot hold, and edits nested deeper than any made, are refused.
        let mut forged = vec![0xff, 0xff, 0x03];
        crate::form::seal(&mut forged, 0);
        assert!(decode(&forged, "a", &rules).is_none());
        let mut deep = ScalarEdit {
            ordinal: 0,
            range: 0..1,
            replacement: "x".into(),
            inner: None,
        };
        for _ in 0..=MAX_EDIT_DEPTH + 1 {
            deep = ScalarEdit {
                inner: Some(Box::new(deep.clone())),
                ..deep
            };
        }
        let mut nested = sample();
        if let Some(fix) = &mut nested[1].fix {
            fix.edits = vec![deep];
        }
        let mut bytes = Vec::new();
        encode(&nested, &rules, &mut bytes);
        assert!(decode(&bytes, "a", &rules).is_none());
    }
}
