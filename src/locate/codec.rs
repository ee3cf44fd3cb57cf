//! A compact byte form of a file's `Located` facts, so that a large run can keep them out of
//! memory (`engine::spill`) between reading a file and running its rules, and read them back
//! exactly as they were.
//!
//! Written in the run's byte form (`crate::form`, which seals it with a check value). The text
//! of an inline patch is written once per file and shared again on reading, as it was when
//! located.

use super::{DocFacts, Inline, Located, Placed, Role, Site, Target};
use crate::form::{Reader, Writer};
use crate::yaml::{Scalar, Style};
use std::sync::Arc;

/// Appends the byte form of `located` to `out`.
pub fn encode(located: &Located, out: &mut Vec<u8>) {
    let start = out.len();
    encode_facts(located, &mut Writer { out: &mut *out });
    crate::form::seal(out, start);
}

fn encode_facts(located: &Located, w: &mut Writer) {
    // Inline patch texts, each once: sites of one patch share one `Arc`.
    let mut texts: Vec<&Arc<str>> = Vec::new();
    for site in &located.sites {
        if let Some(inline) = &site.target.inline {
            if !texts.iter().any(|t| Arc::ptr_eq(t, &inline.text)) {
                texts.push(&inline.text);
            }
        }
    }
    w.number(texts.len());
    for text in &texts {
        w.text(text);
    }
    w.number(located.sites.len());
    for site in &located.sites {
        w.scalar(&site.target.scalar);
        match &site.target.inline {
            None => w.byte(0),
            Some(inline) => {
                w.byte(1);
                let index = texts
                    .iter()
                    .position(|t| Arc::ptr_eq(t, &inline.text))
                    .unwrap_or_default();
                w.number(index);
                w.scalar(&inline.scalar);
            }
        }
        w.text(&site.value);
        w.role(&site.role);
        w.text(&site.path);
        w.number(site.document);
        w.byte(u8::from(site.in_patch));
        w.number(site.at.line as usize);
        w.number(site.at.column as usize);
        w.byte(u8::from(site.at.verbatim));
    }
    w.number(located.docs.len());
    for doc in &located.docs {
        w.number(doc.index);
        w.optional(doc.kind.as_deref());
        w.optional(doc.name.as_deref());
        w.optional(doc.namespace.as_deref());
        w.byte(u8::from(doc.creates_resources));
    }
}

/// The facts `encode` wrote; `None` when `bytes` is not such a form: cut, padded, or changed
/// (as far as a 64-bit check value tells).
pub fn decode(bytes: &[u8]) -> Option<Located> {
    let mut r = crate::form::unseal(bytes)?;
    let texts: Vec<Arc<str>> = (0..r.count(1)?)
        .map(|_| r.text().map(Arc::from))
        .collect::<Option<_>>()?;
    let mut sites = Vec::with_capacity(r.count(MIN_SITE_BYTES)?);
    for _ in 0..sites.capacity() {
        let scalar = r.scalar()?;
        let inline = match r.byte()? {
            0 => None,
            1 => {
                let text = texts.get(r.number()?)?.clone();
                Some(Box::new(Inline {
                    text,
                    scalar: r.scalar()?,
                }))
            }
            _ => return None,
        };
        sites.push(Site {
            target: Target { scalar, inline },
            value: r.text()?,
            role: r.role()?,
            path: r.text()?,
            document: r.number()?,
            in_patch: r.flag()?,
            at: Placed {
                line: r.number_u32()?,
                column: r.number_u32()?,
                verbatim: r.flag()?,
            },
        });
    }
    let mut docs = Vec::with_capacity(r.count(MIN_DOC_BYTES)?);
    for _ in 0..docs.capacity() {
        docs.push(DocFacts {
            index: r.number()?,
            kind: r.optional()?,
            name: r.optional()?,
            namespace: r.optional()?,
            creates_resources: r.flag()?,
        });
    }
    r.bytes.is_empty().then_some(Located { sites, docs })
}

/// The fewest bytes a site and a document take in the form: what a count is checked against
/// before it sizes a list.
const MIN_SITE_BYTES: usize = 15;
const MIN_DOC_BYTES: usize = 5;

impl Writer<'_> {
    fn scalar(&mut self, s: &Scalar) {
        self.text(&s.value);
        self.byte(match s.style {
            Style::Plain => 0,
            Style::SingleQuoted => 1,
            Style::DoubleQuoted => 2,
            Style::Literal => 3,
            Style::Folded => 4,
        });
        self.number(s.span.start);
        self.number(s.span.end);
        self.number(s.ordinal);
        self.byte(u8::from(s.tagged));
    }

    fn role(&mut self, role: &Role) {
        match role {
            Role::ContainerImage => self.byte(0),
            Role::KustomizeImage { field, name } => {
                self.byte(1);
                self.text(field);
                self.optional(name.as_deref());
            }
            Role::HelmImage { field } => {
                self.byte(2);
                self.text(field);
            }
            Role::IrsaRoleArn { service_account } => {
                self.byte(3);
                self.optional(service_account.as_deref());
            }
            Role::Other => self.byte(4),
        }
    }
}

impl Reader<'_> {
    fn scalar(&mut self) -> Option<Scalar> {
        Some(Scalar {
            value: self.text()?,
            style: match self.byte()? {
                0 => Style::Plain,
                1 => Style::SingleQuoted,
                2 => Style::DoubleQuoted,
                3 => Style::Literal,
                4 => Style::Folded,
                _ => return None,
            },
            span: self.number()?..self.number()?,
            ordinal: self.number()?,
            tagged: self.flag()?,
        })
    }

    fn role(&mut self) -> Option<Role> {
        Some(match self.byte()? {
            0 => Role::ContainerImage,
            1 => Role::KustomizeImage {
                field: self.text()?,
                name: self.optional()?,
            },
            2 => Role::HelmImage {
                field: self.text()?,
            },
            3 => Role::IrsaRoleArn {
                service_account: self.optional()?,
            },
            4 => Role::Other,
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every fact of every site and document, as text: what a round trip must keep.
    fn shown(located: &Located) -> String {
        format!("{:?}\n{:?}", located.sites, located.docs)
    }

    fn located(text: &str, file: &str) -> Located {
        let parsed = crate::yaml::parse(text).expect("valid yaml");
        let mut located = crate::locate::locate(&parsed, file);
        crate::locate::place_sites(text, &mut located);
        located
    }

    #[test]
    fn facts_read_back_are_the_facts_written() {
        let samples = [
            (
                "kustomization.yaml",
                "kind: Kustomization\nnamespace: team\nimages:\n  - name: app\n    newName: 123456789012.dkr.ecr.us-east-1.amazonaws.com/app\n    newTag: main-latest\npatches:\n  - target:\n      kind: ServiceAccount\n      name: sa\n    patch: |-\n      - op: replace\n        path: /metadata/annotations/eks.amazonaws.com~1role-arn\n        value: \"arn:aws:iam::123456789012:role/r\"\n      - op: add\n        path: /metadata/labels/x\n        value: 'y'\n",
            ),
            (
                "deploy.yaml",
                "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: \"ns\"}\nspec:\n  template:\n    spec:\n      serviceAccountName: web\n      containers:\n        - image: !!str \"a/b:c\"\n          args:\n            - \"é\\u00e9\"\n            - >-\n              folded\n              text\n---\nkind: ServiceAccount\nmetadata:\n  name: web\n  annotations:\n    eks.amazonaws.com/role-arn: arn:aws:iam::210987654321:role/web\n",
            ),
            ("values.yaml", "image:\n  repository: r\n  registry: g\n  tag: ''\n"),
            ("empty.yaml", ""),
        ];
        for (file, text) in samples {
            let original = located(text, file);
            let mut bytes = Vec::new();
            encode(&original, &mut bytes);
            let back = decode(&bytes).expect("decodes");
            assert_eq!(shown(&back), shown(&original), "{file}");
            // Sites of one inline patch share its text again.
            let inline: Vec<_> = back
                .sites
                .iter()
                .filter_map(|s| s.target.inline.as_ref())
                .collect();
            assert!(inline
                .windows(2)
                .all(|w| Arc::ptr_eq(&w[0].text, &w[1].text)));
            if file == "kustomization.yaml" {
                assert!(inline.len() >= 2, "the sample has a patch with two values");
            }
        }
    }

    #[test]
    fn damaged_forms_are_refused_not_misread() {
        let original = located(
            "kind: Deployment\nspec:\n  containers:\n    - image: 123456789012.dkr.ecr.us-east-1.amazonaws.com/app:latest\n",
            "d.yaml",
        );
        let mut bytes = Vec::new();
        encode(&original, &mut bytes);
        // Every shortened form is refused: the reader never runs past the end.
        for len in 0..bytes.len() {
            assert!(decode(&bytes[..len]).is_none(), "cut at {len}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode(&longer).is_none());
        // A count the bytes cannot hold is refused before it sizes a list, even in a form
        // whose check value is right.
        let mut forged = vec![0, 0xff, 0xff, 0x03];
        crate::form::seal(&mut forged, 0);
        assert!(decode(&forged).is_none());
        // A changed byte anywhere, check value included, is caught.
        for at in 0..bytes.len() {
            let mut changed = bytes.clone();
            changed[at] ^= 0x10;
            assert!(decode(&changed).is_none(), "byte {at} changed");
        }
        // A huge count is not believed.
        assert!(decode(&[0xff, 0xff, 0xff, 0xff, 0x0f]).is_none());
    }
}
