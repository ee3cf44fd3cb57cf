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

use crate::yaml::splice::{self, plan, ScalarEdit};
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
    pub inline: Option<Inline>,
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
    pub target: Target,
    /// Byte range in the file of the scalar (for inline patches, of the outer block scalar).
    pub span: Range<usize>,
    pub value: String,
    pub role: Role,
    /// Dotted path from the document root (`spec.template.spec.containers[0].image`).
    pub path: String,
    pub document: usize,
    /// The `kind` of the resource the scalar belongs to, when it has one.
    pub kind: Option<String>,
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
        let parsed = crate::yaml::parse(&inline.text).ok()?;
        let planned = plan(&inline.text, &parsed, std::slice::from_ref(&innermost)).ok()?;
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
    pub api_version: Option<String>,
    pub name: Option<String>,
    pub namespace: Option<String>,
}

/// Locates every value scalar of `parsed`, with its role.
pub fn locate(parsed: &ParsedFile, file_name: &str) -> Located {
    let mut sites = Vec::new();
    let mut docs = Vec::new();
    for doc in &parsed.documents {
        walk::walk_document(&doc.root, doc.index, file_name, &mut sites);
        let text = |keys: &[&str]| {
            doc.root
                .at(keys)
                .and_then(|n| n.as_str())
                .map(str::to_string)
        };
        docs.push(DocFacts {
            index: doc.index,
            kind: text(&["kind"]),
            api_version: text(&["apiVersion"]),
            name: text(&["metadata", "name"]),
            namespace: text(&["metadata", "namespace"]),
        });
    }
    Located { sites, docs }
}

impl Located {
    /// Drops the sites no rule or step can use — plain strings that are not images, not IRSA
    /// annotations, name no AWS account and are not pull secrets or service accounts — so a
    /// large repository is held in memory by what matters in it. `prefixes` are registry
    /// prefixes a recipe moves, whose values are kept wherever they stand.
    pub fn retain_relevant(&mut self, prefixes: &[String]) {
        self.sites.retain(|site| {
            site.role != Role::Other
                || site.value.contains("amazonaws.com")
                || site.value.contains("arn:")
                || site.path.contains("imagePullSecrets[")
                || site.path.to_ascii_lowercase().contains("serviceaccount")
                || prefixes.iter().any(|p| site.value.starts_with(p.as_str()))
        });
        // The walk sized the list for every scalar; keeping that capacity would keep the
        // memory the pruning is for.
        self.sites.shrink_to_fit();
    }
}

/// The byte range in the file's text that `range` of a site's decoded value comes from.
pub fn source_range(text: &str, site: &Site, range: Range<usize>) -> Option<Range<usize>> {
    let outer_range = match &site.target.inline {
        None => range,
        Some(inline) => splice::source_range(&inline.text, &inline.scalar, range)?,
    };
    splice::source_range(text, &site.target.scalar, outer_range)
}
