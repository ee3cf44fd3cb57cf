//! The run's image tag uses, kept in a spill (`spill`) a part at a time rather than in memory:
//! one part per slice of the list of files (`files`), holding the uses of that slice's files
//! in file and site order. The passes that need every use (pins, the registry) read them back
//! part by part, and the rules read a slice's part as they check its files. A tag use (its
//! image, tag, place and render roots, and its file's path) was, with the paths, among the
//! largest parts of a large run's memory.
//!
//! A part is written in the run's byte form (`crate::form`) and sealed; a part that cannot be
//! put away stays in memory.

use super::spill::{Spill, SpillReader, SpillRef};
use crate::form::{Reader, Writer};
use crate::locate::images::{TagPlace, TagUse};
use crate::locate::tags::TagKind;
use std::sync::Arc;

/// Tag uses in parts, in the order they were pushed.
#[derive(Debug, Default)]
pub(super) struct UseList {
    parts: Vec<Part>,
}

#[derive(Debug)]
enum Part {
    Spilled { at: SpillRef, uses: usize },
    Here(Vec<TagUse>),
}

impl UseList {
    /// Adds the next part (the uses of the next slice of files), putting it in `spill`.
    pub(super) fn push(&mut self, uses: Vec<TagUse>, spill: &Spill) {
        let mut bytes = Vec::new();
        let spilled = if uses.is_empty() {
            None
        } else {
            encode(&uses, &mut bytes);
            spill.put_bytes(&bytes)
        };
        self.parts.push(match spilled {
            Some(at) => Part::Spilled {
                at,
                uses: uses.len(),
            },
            None => Part::Here(uses),
        });
    }

    /// The uses of part `index`, read back from `reader`; an error when they cannot be.
    pub(super) fn part(&self, index: usize, reader: &SpillReader) -> Result<Vec<TagUse>, String> {
        match self.parts.get(index) {
            None => Ok(Vec::new()),
            Some(Part::Here(uses)) => Ok(uses.clone()),
            Some(Part::Spilled { at, uses }) => {
                reader.decoded(*at, "image uses", |bytes| decode(bytes, *uses))
            }
        }
    }

    /// Every use, in order, a part read back at a time. A part that cannot be read back is
    /// passed over: the rules' pass, which reads every part, reports it.
    pub(super) fn iter<'a>(&'a self, reader: &'a SpillReader) -> impl Iterator<Item = TagUse> + 'a {
        (0..self.parts.len()).flat_map(move |index| self.part(index, reader).unwrap_or_default())
    }
}

fn encode(uses: &[TagUse], out: &mut Vec<u8>) {
    let start = out.len();
    let mut w = Writer { out: &mut *out };
    let mut previous: Option<&Arc<str>> = None;
    for use_ in uses {
        // A file's uses come together and share its path: written once for them.
        if previous.is_some_and(|p| Arc::ptr_eq(p, &use_.path) || **p == *use_.path) {
            w.byte(0);
        } else {
            w.byte(1);
            w.text(&use_.path);
        }
        previous = Some(&use_.path);
        w.number(use_.site);
        w.text(&use_.image);
        w.optional(use_.tag.as_deref());
        w.byte(match use_.kind {
            TagKind::Missing => 0,
            TagKind::Mutable => 1,
            TagKind::CommitPinned => 2,
            TagKind::Semver => 3,
            TagKind::Other => 4,
        });
        w.number(use_.tag_range.start);
        w.number(use_.tag_range.end);
        w.byte(match use_.place {
            TagPlace::InReference => 0,
            TagPlace::KustomizeNewTag => 1,
            TagPlace::HelmTag => 2,
        });
        w.number(use_.renders.len());
        for root in &use_.renders {
            w.text(root);
        }
    }
    crate::form::seal(out, start);
}

/// The `count` uses written by `encode`; `None` when `bytes` is not that.
fn decode(bytes: &[u8], count: usize) -> Option<Vec<TagUse>> {
    let mut r = crate::form::unseal(bytes)?;
    // Each use takes at least a few bytes: a count its bytes cannot hold sizes no list.
    let mut out = Vec::with_capacity(count.min(r.bytes.len()));
    let mut path: Option<Arc<str>> = None;
    for _ in 0..count {
        out.push(decode_use(&mut r, &mut path)?);
    }
    r.bytes.is_empty().then_some(out)
}

fn decode_use(r: &mut Reader, path: &mut Option<Arc<str>>) -> Option<TagUse> {
    match r.byte()? {
        0 => {}
        1 => *path = Some(Arc::from(r.text()?)),
        _ => return None,
    }
    let path = Arc::clone(path.as_ref()?);
    let site = r.number()?;
    let image = r.text()?.into_boxed_str();
    let tag = r.optional()?.map(String::into_boxed_str);
    let kind = match r.byte()? {
        0 => TagKind::Missing,
        1 => TagKind::Mutable,
        2 => TagKind::CommitPinned,
        3 => TagKind::Semver,
        4 => TagKind::Other,
        _ => return None,
    };
    let tag_range = r.number()?..r.number()?;
    let place = match r.byte()? {
        0 => TagPlace::InReference,
        1 => TagPlace::KustomizeNewTag,
        2 => TagPlace::HelmTag,
        _ => return None,
    };
    // A root's text takes at least its length's byte.
    let roots = r.count(1)?;
    let mut renders = Vec::with_capacity(roots);
    for _ in 0..roots {
        renders.push(Arc::from(r.text()?));
    }
    Some(TagUse {
        path,
        site,
        image,
        tag,
        kind,
        tag_range,
        place,
        renders: renders.into_boxed_slice(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag_use(path: &Arc<str>, site: usize, tag: Option<&str>, kind: TagKind) -> TagUse {
        TagUse {
            path: Arc::clone(path),
            site,
            image: "465002806239.dkr.ecr.ap-southeast-2.amazonaws.com/team/app".into(),
            tag: tag.map(Box::from),
            kind,
            tag_range: 10..10 + tag.map_or(0, str::len),
            place: match site % 3 {
                0 => TagPlace::InReference,
                1 => TagPlace::KustomizeNewTag,
                _ => TagPlace::HelmTag,
            },
            renders: (0..site % 3)
                .map(|i| Arc::from(format!("apps/x/overlays/e{i}")))
                .collect(),
        }
    }

    fn sample() -> Vec<TagUse> {
        let a: Arc<str> = Arc::from("apps/a/deploy.yaml");
        let b: Arc<str> = Arc::from("apps/b/kustomization.yaml");
        vec![
            tag_use(&a, 0, Some("main-latest"), TagKind::Mutable),
            tag_use(&a, 4, None, TagKind::Missing),
            tag_use(
                &b,
                2,
                Some("main-0123456789abcdef0123456789abcdef01234567"),
                TagKind::CommitPinned,
            ),
            tag_use(&b, 7, Some("v1.2.3"), TagKind::Semver),
            tag_use(&b, 8, Some(""), TagKind::Other),
        ]
    }

    fn shown(uses: &[TagUse]) -> Vec<String> {
        uses.iter().map(|u| format!("{u:?}")).collect()
    }

    #[test]
    fn uses_come_back_as_they_were_put_part_by_part() {
        let spill = Spill::new();
        let mut list = UseList::default();
        let uses = sample();
        list.push(uses[..2].to_vec(), &spill);
        list.push(Vec::new(), &spill);
        list.push(uses[2..].to_vec(), &spill);
        let reader = spill.finish();
        assert_eq!(
            shown(&list.part(0, &reader).expect("part 0")),
            shown(&uses[..2])
        );
        assert!(list.part(1, &reader).expect("part 1").is_empty());
        assert_eq!(
            shown(&list.part(2, &reader).expect("part 2")),
            shown(&uses[2..])
        );
        assert!(list.part(3, &reader).expect("no such part").is_empty());
        assert_eq!(shown(&list.iter(&reader).collect::<Vec<_>>()), shown(&uses));
        // A file's uses share one path again, as they did when made.
        let back = list.part(2, &reader).expect("part 2");
        assert!(Arc::ptr_eq(&back[0].path, &back[2].path));
    }

    #[test]
    fn a_cut_or_changed_part_is_refused() {
        let uses = sample();
        let mut bytes = Vec::new();
        encode(&uses, &mut bytes);
        assert!(decode(&bytes, uses.len()).is_some());
        assert!(decode(&bytes, uses.len() + 1).is_none());
        assert!(decode(&bytes, uses.len() - 1).is_none());
        for cut in 0..bytes.len() {
            assert!(decode(&bytes[..cut], uses.len()).is_none());
        }
        for at in 0..bytes.len() {
            let mut changed = bytes.clone();
            changed[at] ^= 0x01;
            assert!(decode(&changed, uses.len()).is_none());
        }
    }
}
