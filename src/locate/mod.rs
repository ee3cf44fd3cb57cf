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

use crate::yaml::splice::{self, plan_text, ScalarEdit};
use crate::yaml::{ParsedFile, Scalar};
use std::ops::Range;

/// What a located scalar means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// A container image (`image:` of a container in any workload kind or Argo template).
    ContainerImage,
    /// A field of a kustomize `images:` entry: `name`, `newName`, `newTag` or `digest`.
    KustomizeImage { field: String, name: Option<String> },
    /// Helm-style values: `image.repository`, `image.registry` or `image.tag`.
    HelmImage { field: String },
    /// The IRSA annotation `eks.amazonaws.com/role-arn`, with the ServiceAccount it sits on.
    IrsaRoleArn { service_account: Option<String> },
    /// Any other string.
    Other,
}

/// How to reach a scalar for editing: directly in the file, or inside an inline document.
#[derive(Debug, Clone)]
pub struct Target {
    /// The scalar in the file (for inline patches, the block scalar holding the patch).
    pub scalar: Scalar,
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
    pub scalar: Scalar,
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
    pub path: String,
    pub document: usize,
    /// Whether the scalar sits in an inline patch of a kustomization.
    pub in_patch: bool,
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
                .map_or(self.target.scalar.ordinal, |i| i.scalar.ordinal),
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
            ordinal: self.target.scalar.ordinal,
            range: text_edit.range.clone(),
            replacement: text_edit.replacement.clone(),
            inner: Some(Box::new(innermost)),
        })
    }
}

/// Everything located in one file.
#[derive(Debug, Default)]
pub struct Located {
    pub sites: Vec<Site>,
    /// What each document is, for passes that reason about resources rather than values.
    pub docs: Vec<DocFacts>,
}

/// A document's identity: enough for IRSA wiring without keeping its parse.
#[derive(Debug, Clone, Default)]
pub struct DocFacts {
    pub index: usize,
    pub kind: Option<String>,
    pub name: Option<String>,
    pub namespace: Option<String>,
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
        let text = |keys: &[&str]| {
            doc.root
                .at(keys)
                .and_then(|n| n.as_str())
                .map(str::to_string)
        };
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

/// The byte range in the file's text that `range` of a site's decoded value comes from.
pub fn source_range(text: &str, site: &Site, range: Range<usize>) -> Option<Range<usize>> {
    // The targets' scalars carry no value in a large run (`locate_relevant`): rebuilt from
    // what the site keeps.
    let outer_range = match &site.target.inline {
        None => range,
        Some(inline) => {
            let inner = Scalar {
                value: site.value.clone(),
                ..inline.scalar.clone()
            };
            splice::source_range(&inline.text, &inner, range)?
        }
    };
    let outer = Scalar {
        value: match &site.target.inline {
            None => site.value.clone(),
            Some(inline) => inline.text.to_string(),
        },
        ..site.target.scalar.clone()
    };
    splice::source_range(text, &outer, outer_range)
}
