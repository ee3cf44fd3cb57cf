//! Turns a parsed file into the things rules reason about: which scalar is an image reference,
//! a kustomize image override, an IRSA role annotation, and so on — including inside kustomize
//! inline patches, whose text is parsed as YAML and located recursively.

pub mod aws;
pub mod image_ref;
pub mod images;
pub mod irsa;
pub mod kustomize;
pub mod tags;
pub mod terraform;
mod walk;

use crate::yaml::source;
use crate::yaml::splice::{plan_text, ScalarEdit};
use crate::yaml::{ParsedFile, Scalar};
use std::ops::Range;

/// What a located scalar means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// A container image (`image:` of a container in any workload kind or Argo template).
    ContainerImage,
    /// A field of a kustomize `images:` entry: `name`, `newName`, `newTag` or `digest`.
    KustomizeImage {
        field: Box<str>,
        name: Option<Box<str>>,
    },
    /// Helm-style values: `image.repository`, `image.registry` or `image.tag`.
    HelmImage { field: Box<str> },
    /// The IRSA annotation `eks.amazonaws.com/role-arn`, with the ServiceAccount it sits on.
    IrsaRoleArn { service_account: Option<Box<str>> },
    /// Any other string.
    Other,
}

/// How to reach a scalar for editing: directly in the file, or inside an inline document.
#[derive(Debug, Clone)]
pub struct Target {
    /// The scalar in the file (for inline patches, the block scalar holding the patch).
    pub scalar: ScalarAt,
    /// Set for scalars inside an inline patch: the outer scalar's ordinal is `ordinal`; this is
    /// the inline document's text and the scalar's ordinal in it.
    /// Boxed: most sites are not in a patch, and every byte of a site counts in a large run.
    pub inline: Option<Box<Inline>>,
}

#[derive(Debug, Clone)]
pub struct Inline {
    /// The inline document's text; it is parsed again for an edit rather than keeping its
    /// parse alive for the whole run.
    pub text: std::sync::Arc<str>,
    /// The scalar inside the inline document.
    pub scalar: ScalarAt,
}

/// Where a scalar is and how it is written, without its value (a site's `value` has it, and
/// for a patch `Inline::text` the outer value): every byte of a site counts in a large run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScalarAt {
    pub style: crate::yaml::Style,
    pub tagged: bool,
    /// Byte range of the scalar in the source (quotes included, block header excluded).
    pub span: Range<usize>,
    /// The scalar's position among all scalars of its text (`Scalar::ordinal`), which fits:
    /// a file of at most 16 MiB has fewer scalars than bytes.
    pub ordinal: u32,
}

impl ScalarAt {
    pub fn of(scalar: &Scalar) -> ScalarAt {
        ScalarAt {
            style: scalar.style,
            tagged: scalar.tagged,
            span: scalar.span.clone(),
            ordinal: u32::try_from(scalar.ordinal).unwrap_or(u32::MAX),
        }
    }

    /// `ordinal`, as the parser numbers scalars.
    pub fn ordinal(&self) -> usize {
        self.ordinal as usize
    }

    /// The scalar with `value` as its value.
    pub fn with_value(&self, value: String) -> Scalar {
        Scalar {
            value,
            style: self.style,
            span: self.span.clone(),
            ordinal: self.ordinal(),
            tagged: self.tagged,
        }
    }
}

/// A value scalar with its meaning and where it sits.
#[derive(Debug, Clone)]
pub struct Site {
    /// Where to edit; `target.scalar.span` is the byte range in the file of the scalar (for
    /// inline patches, of the outer block scalar).
    pub target: Target,
    pub value: String,
    pub role: Role,
    /// Dotted path from the document root (`spec.template.spec.containers[0].image`).
    pub path: Box<str>,
    pub document: usize,
    /// Whether the scalar sits in an inline patch of a kustomization.
    pub in_patch: bool,
    /// Where the scalar starts, noted while its file's text is at hand (`place_sites`).
    pub at: Placed,
}

/// Where a site's scalar (for a patch, the block scalar holding it) starts in its file, and
/// whether the site's value stands in the source byte for byte: enough to place a finding
/// in the value without reading the file again. All zero and `false` until `place_sites`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Placed {
    /// 1-based line and column (in characters) of `target.scalar.span.start`; 0 when unknown.
    pub line: u32,
    pub column: u32,
    /// The value is the source between the quotes (or the plain scalar), on one line.
    pub verbatim: bool,
}

impl Site {
    /// Where the value's first byte is in the file (past an opening quote), when the value
    /// stands there byte for byte.
    fn verbatim_base(&self) -> Option<usize> {
        let scalar = &self.target.scalar;
        (self.at.verbatim && self.target.inline.is_none())
            .then(|| scalar.span.start + source::quote_width(scalar.style))
    }

    /// The 1-based line and column of byte `offset` of the file, when it lies in this site's
    /// verbatim value or at the scalar's start; `None` when that needs the text.
    pub fn line_col(&self, offset: usize) -> Option<(usize, usize)> {
        if self.at.line == 0 {
            return None;
        }
        let (line, column) = (self.at.line as usize, self.at.column as usize);
        if offset == self.target.scalar.span.start {
            return Some((line, column));
        }
        let base = self.verbatim_base()?;
        let before = self.value.get(..offset.checked_sub(base)?)?;
        // On one line: every character from the scalar's start is one column.
        Some((
            line,
            column + (base - self.target.scalar.span.start) + before.chars().count(),
        ))
    }
}

impl Located {
    /// What tells the 1-based line and column of a byte offset of the file, when a site can
    /// (`Site::line_col`); it answers `None` when that needs the text.
    pub fn placer(&self) -> impl Fn(usize) -> Option<(usize, usize)> + '_ {
        let start = |s: &Site| s.target.scalar.span.start;
        // Sites come in the order of the file, so the one that can hold an offset is the last
        // that starts at or before it, found by halving (a file may hold thousands of sites
        // and findings).
        let sorted = self.sites.is_sorted_by_key(start);
        move |offset| {
            if sorted {
                let after = self.sites.partition_point(|s| start(s) <= offset);
                self.sites.get(after.checked_sub(1)?)?.line_col(offset)
            } else {
                self.sites.iter().find_map(|s| s.line_col(offset))
            }
        }
    }
}

/// Notes where each site starts and whether its value is verbatim (`Placed`), from the text
/// the sites were located in.
pub fn place_sites(text: &str, located: &mut Located) {
    if located.sites.is_empty() {
        return;
    }
    let lines = crate::text::LineIndex::new(text);
    for site in &mut located.sites {
        let span = &site.target.scalar.span;
        let (line, column) = lines.line_col(span.start);
        let verbatim = site.target.inline.is_none()
            && !site.value.contains('\n')
            && source::verbatim_base(text, span, site.target.scalar.style, &site.value).is_some();
        site.at = Placed {
            line: u32::try_from(line).unwrap_or(0),
            column: u32::try_from(column).unwrap_or(0),
            verbatim,
        };
    }
}

impl Site {
    /// The edit that replaces `range` of this site's decoded value with `replacement`,
    /// lifted through the inline document when there is one.
    pub fn edit(&self, range: Range<usize>, replacement: &str) -> Option<ScalarEdit> {
        let innermost = ScalarEdit {
            ordinal: self
                .target
                .inline
                .as_ref()
                .map_or(self.target.scalar.ordinal(), |i| i.scalar.ordinal()),
            range,
            replacement: replacement.to_string(),
            inner: None,
        };
        let Some(inline) = &self.target.inline else {
            return Some(innermost);
        };
        // Plan the edit in the inline document: its byte edits are ranges of the outer
        // scalar's decoded value, which is what the outer edit needs.
        let planned = plan_text(&inline.text, std::slice::from_ref(&innermost)).ok()?;
        let [text_edit] = planned.edits.as_slice() else {
            return None;
        };
        Some(ScalarEdit {
            ordinal: self.target.scalar.ordinal(),
            range: text_edit.range.clone(),
            replacement: text_edit.replacement.clone(),
            inner: Some(Box::new(innermost)),
        })
    }
}

/// Everything located in one file.
#[derive(Debug, Clone, Default)]
pub struct Located {
    pub sites: Vec<Site>,
    /// What each document is, for passes that reason about resources rather than values.
    pub docs: Vec<DocFacts>,
}

impl Located {
    /// About how many bytes these facts take in memory, counting what their strings hold:
    /// what a run's budget for keeping facts is spent in.
    pub fn approx_bytes(&self) -> usize {
        let sites: usize = self
            .sites
            .iter()
            .map(|site| {
                let inline = site
                    .target
                    .inline
                    .as_ref()
                    .map_or(0, |i| std::mem::size_of::<Inline>() + i.text.len());
                std::mem::size_of::<Site>() + inline + site.value.capacity() + site.path.len()
            })
            .sum();
        let text = |s: &Option<Box<str>>| s.as_ref().map_or(0, |s| s.len());
        let docs: usize = self
            .docs
            .iter()
            .map(|d| {
                std::mem::size_of::<DocFacts>() + text(&d.kind) + text(&d.name) + text(&d.namespace)
            })
            .sum();
        std::mem::size_of::<Located>() + sites + docs
    }
}

/// A document's identity: enough for IRSA wiring without keeping its parse.
#[derive(Debug, Clone, Default)]
pub struct DocFacts {
    pub index: usize,
    pub kind: Option<Box<str>>,
    pub name: Option<Box<str>>,
    pub namespace: Option<Box<str>>,
    /// A resource that makes others (HelmRelease, Argo CD Application, Flux Kustomization):
    /// what it makes is not in the repository's files.
    pub creates_resources: bool,
}

/// Locates every value scalar of `parsed`, with its role.
pub fn locate(parsed: &ParsedFile, file_name: &str) -> Located {
    locate_with(parsed, file_name, None)
}

/// Locates only the scalars a rule or recipe step can use (`relevant`): what a large run
/// keeps. `prefixes` are registry prefixes a recipe moves, kept wherever they stand. The
/// targets' scalars carry no value (the site's `value` has it; for a patch, the patch text is
/// in `Inline::text`): `source_range` rebuilds them when a finding needs them.
pub fn locate_relevant(parsed: &ParsedFile, file_name: &str, prefixes: &[String]) -> Located {
    let mut located = locate_with(parsed, file_name, Some(prefixes));
    located.sites.shrink_to_fit();
    located.docs.shrink_to_fit();
    located
}

fn locate_with(parsed: &ParsedFile, file_name: &str, keep: Option<&[String]>) -> Located {
    let mut sites = Vec::new();
    let mut docs = Vec::new();
    for doc in &parsed.documents {
        walk::walk_document(&doc.root, doc.index, file_name, &mut sites, keep);
        let text = |keys: &[&str]| doc.root.at(keys).and_then(|n| n.as_str()).map(Box::from);
        let kind = text(&["kind"]);
        let api_version = doc.root.at(&["apiVersion"]).and_then(|n| n.as_str());
        let creates_resources = matches!(
            kind.as_deref(),
            Some("HelmRelease" | "Application" | "ApplicationSet" | "HelmChart")
        ) || api_version
            .is_some_and(|a| a.starts_with("kustomize.toolkit.fluxcd.io"));
        docs.push(DocFacts {
            index: doc.index,
            kind,
            name: text(&["metadata", "name"]),
            namespace: text(&["metadata", "namespace"]),
            creates_resources,
        });
    }
    Located { sites, docs }
}

/// Whether a scalar can matter to a rule or step: images and IRSA annotations (any role but
/// `Other`), strings naming an AWS account, pull secrets and service-account names, and values
/// under a registry prefix a recipe moves. Everything else is a plain string nothing reads.
pub(crate) fn relevant(
    role: &Role,
    value: &str,
    path: &[crate::yaml::PathSeg<'_>],
    prefixes: &[String],
) -> bool {
    use crate::yaml::PathSeg;
    *role != Role::Other
        || aws::may_name_account(value)
        || prefixes.iter().any(|p| value.starts_with(p.as_str()))
        || path.iter().any(|seg| match seg {
            PathSeg::Key(k) => k == "imagePullSecrets" || contains_ignore_case(k, "serviceaccount"),
            PathSeg::Index(_) => false,
        })
}

/// Whether `haystack` contains `needle` (ASCII lowercase) in any ASCII case, without the
/// lowercased copy: this runs for every path segment of every scalar of a large run.
pub(crate) fn contains_ignore_case(haystack: &str, needle: &str) -> bool {
    haystack
        .as_bytes()
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

/// The byte range in the file's text that `range` of a site's decoded value comes from. A
/// verbatim value (`Placed`) answers without the text; anything else needs it (`None` when
/// it is not at hand).
pub fn source_range(text: Option<&str>, site: &Site, range: Range<usize>) -> Option<Range<usize>> {
    // What `yaml::source::source_range` answers for a verbatim value, without its text.
    source::verbatim_range(site.verbatim_base(), &site.value, &range)
        .or_else(|| source_range_in(text?, site, range))
}

/// `source_range` with the file's text at hand.
pub fn source_range_in(text: &str, site: &Site, range: Range<usize>) -> Option<Range<usize>> {
    // The targets' scalars carry no value in a large run (`locate_relevant`): rebuilt from
    // what the site keeps.
    let outer_range = match &site.target.inline {
        None => range,
        Some(inline) => {
            let inner = inline.scalar.with_value(site.value.clone());
            source::source_range(&inline.text, &inner, range)?
        }
    };
    let outer = site.target.scalar.with_value(match &site.target.inline {
        None => site.value.clone(),
        Some(inline) => inline.text.to_string(),
    });
    source::source_range(text, &outer, outer_range)
}

#[cfg(test)]
mod tests {
    use super::{locate_relevant, place_sites, source_range, source_range_in};
    use crate::text::LineIndex;

    /// What a site notes while the text is at hand places every byte of its value, and gives
    /// every source range, exactly as the text does; where it cannot, it says so (`None`).
    #[test]
    fn placed_sites_agree_with_the_text() {
        let body = "apiVersion: apps/v1\r\nkind: Deployment\r\nmetadata:\r\n  name: ünïcode-app\r\n  annotations:\r\n    eks.amazonaws.com/role-arn: \"arn:aws:iam::123456789012:role/é-role\"\r\nspec:\r\n  template:\r\n    spec:\r\n      serviceAccountName: 'ünï''s'\r\n      containers:\r\n        - name: app\r\n          image: 123456789012.dkr.ecr.us-east-1.amazonaws.com/ä/app:latest\r\n        - name: side\r\n          image: \"123456789012.dkr.ecr.us-east-1.amazonaws.com/esc\\u0061ped:v1\"\r\n        - name: folded\r\n          image: 123456789012.dkr.ecr.us-east-1.amazonaws.com/x:v1\r\n            # a comment\r\n";
        for text in [body.to_string(), format!("\u{feff}{body}")] {
            let parsed = crate::yaml::parse(&text).expect("parses");
            let mut located = locate_relevant(&parsed, "deploy.yaml", &[]);
            place_sites(&text, &mut located);
            assert!(located.sites.len() >= 4, "{:?}", located.sites);
            assert!(located.sites.iter().any(|s| s.at.verbatim));
            assert!(located.sites.iter().any(|s| !s.at.verbatim));
            let lines = LineIndex::new(&text);
            let place = located.placer();
            let mut placed = 0;
            let mut without_text = 0;
            for site in &located.sites {
                let len = site.value.len();
                for start in 0..=len + 1 {
                    for end in start.saturating_sub(1)..=len + 1 {
                        let with_text = source_range_in(&text, site, start..end);
                        // Without the text (it cannot be read here), a range is either given
                        // as the text gives it or not given at all.
                        if let Some(range) = source_range(None, site, start..end) {
                            assert_eq!(Some(range), with_text, "{start}..{end} of {site:?}");
                            without_text += 1;
                        }
                    }
                }
                let span = &site.target.scalar.span;
                for offset in span.start..span.end {
                    if let Some(at) = place(offset) {
                        assert_eq!(at, lines.line_col(offset), "{offset} in {site:?}");
                        placed += 1;
                    }
                }
            }
            assert!(placed > 100, "{placed}");
            assert!(without_text > 1000, "{without_text}");
        }
    }
}
