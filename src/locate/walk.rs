//! The recursive walk behind `locate`: gives each value scalar its path and role, and descends
//! into kustomize inline patches.

use super::{Inline, Role, Site, Target};
use crate::yaml::{display_path, parse_facts, Node, PathSeg};
use std::borrow::Cow;
use std::sync::Arc;

const IRSA_ANNOTATION: &str = "eks.amazonaws.com/role-arn";
const CONTAINER_LISTS: &[&str] = &[
    "containers",
    "initContainers",
    "ephemeralContainers",
    "sidecars",
];
const SINGLE_CONTAINERS: &[&str] = &["container", "script", "initContainer"];

/// What the walk knows about the document it is in.
struct Scope<'a> {
    document: usize,
    kind: Option<String>,
    name: Option<String>,
    kustomization: bool,
    /// Set while walking an inline patch: how to lift its scalars to the outer file.
    inline: Option<InlineScope>,
    /// Inside a kustomization's `patches[i]` / `images[i]` entry: its `target` kind and name,
    /// or its image `name`.
    entry: Entry,
    sites: &'a mut Vec<Site>,
    /// `Some(prefixes)`: list only the scalars rules and steps can use (see `relevant`).
    keep: Option<&'a [String]>,
}

/// The inline patch being walked: the outer block scalar and the patch's text.
struct InlineScope {
    outer: crate::yaml::Scalar,
    text: Arc<str>,
}

#[derive(Default, Clone)]
struct Entry {
    target_kind: Option<String>,
    target_name: Option<String>,
    image_name: Option<String>,
}

pub(super) fn walk_document(
    root: &Node,
    document: usize,
    file_name: &str,
    sites: &mut Vec<Site>,
    keep: Option<&[String]>,
) {
    let kind = root.get("kind").and_then(Node::as_str).map(str::to_string);
    let kustomization = matches!(kind.as_deref(), Some("Kustomization" | "Component"))
        && root
            .get("apiVersion")
            .and_then(Node::as_str)
            .is_none_or(|v| v.starts_with("kustomize.config.k8s.io"))
        || matches!(
            file_name,
            "kustomization.yaml" | "kustomization.yml" | "Kustomization"
        );
    let mut scope = Scope {
        document,
        kind,
        name: root
            .at(&["metadata", "name"])
            .and_then(Node::as_str)
            .map(str::to_string),
        kustomization,
        inline: None,
        entry: Entry::default(),
        sites,
        keep,
    };
    walk_root(root, &mut scope);
}

fn walk_root(root: &Node, scope: &mut Scope) {
    // A JSON6902 patch is a list of operations; each `value` is judged by the `path` it targets.
    if is_json6902(root) {
        for (i, op) in root.items().iter().enumerate() {
            let mut path = vec![PathSeg::Index(i)];
            for (key, value) in op.entries() {
                let Some(key) = key.as_str() else { continue };
                if key == "value" {
                    let target_path = op.get("path").and_then(Node::as_str).unwrap_or("");
                    let mut pointer = json_pointer(target_path);
                    visit(value, &mut pointer, scope);
                } else {
                    path.push(PathSeg::Key(Cow::Borrowed(key)));
                    visit(value, &mut path, scope);
                    path.pop();
                }
            }
        }
        return;
    }
    visit(root, &mut Vec::new(), scope);
}

fn is_json6902(root: &Node) -> bool {
    let items = root.items();
    !items.is_empty()
        && items
            .iter()
            .all(|op| op.get("op").is_some() && op.get("path").is_some())
}

/// `/metadata/annotations/eks.amazonaws.com~1role-arn` → path segments (RFC 6901 unescaping).
fn json_pointer(pointer: &str) -> Vec<PathSeg<'static>> {
    pointer
        .split('/')
        .skip(1)
        .map(|seg| {
            let seg = seg.replace("~1", "/").replace("~0", "~");
            match seg.parse::<usize>() {
                Ok(i) => PathSeg::Index(i),
                Err(_) => PathSeg::Key(Cow::Owned(seg)),
            }
        })
        .collect()
}

fn visit<'a>(node: &'a Node, path: &mut Vec<PathSeg<'a>>, scope: &mut Scope) {
    match node {
        Node::Scalar(scalar) => {
            // An inline patch that parses is represented by the scalars inside it; listing
            // the whole patch text as a string too would report everything in it twice.
            if scope.kustomization
                && scope.inline.is_none()
                && is_inline_patch(path, &scalar.value)
                && walk_inline_patch(node, scope)
            {
                return;
            }
            let role = role_of(path, scope);
            if let Some(prefixes) = scope.keep {
                if !super::relevant(&role, &scalar.value, path, prefixes) {
                    return;
                }
            }
            // The sites keep their own values only: the targets' copies, for a patch the
            // whole patch text, are not made at all.
            let copy = super::ScalarAt::of;
            let target = match &scope.inline {
                None => Target {
                    scalar: copy(scalar),
                    inline: None,
                },
                Some(inline) => Target {
                    scalar: copy(&inline.outer),
                    inline: Some(Box::new(Inline {
                        text: inline.text.clone(),
                        scalar: copy(scalar),
                    })),
                },
            };
            scope.sites.push(Site {
                target,
                value: scalar.value.clone(),
                role,
                path: display_path(path).into_boxed_str(),
                document: scope.document,
                in_patch: scope.inline.is_some(),
                at: super::Placed::default(),
            });
        }
        Node::Mapping(entries) => {
            let saved = scope.entry.clone();
            if scope.kustomization && scope.inline.is_none() {
                if let [PathSeg::Key(list), PathSeg::Index(_)] = path.as_slice() {
                    let text =
                        |keys: &[&str]| node.at(keys).and_then(Node::as_str).map(str::to_string);
                    scope.entry = Entry {
                        target_kind: text(&["target", "kind"]),
                        target_name: text(&["target", "name"]),
                        image_name: (list == "images").then(|| text(&["name"])).flatten(),
                    };
                }
            }
            for (key, value) in entries {
                let Some(key) = key.as_str() else { continue };
                path.push(PathSeg::Key(Cow::Borrowed(key)));
                visit(value, path, scope);
                path.pop();
            }
            scope.entry = saved;
        }
        Node::Sequence(items) => {
            for (i, item) in items.iter().enumerate() {
                path.push(PathSeg::Index(i));
                visit(item, path, scope);
                path.pop();
            }
        }
        Node::Alias => {}
    }
}

fn is_inline_patch(path: &[PathSeg<'_>], value: &str) -> bool {
    use PathSeg::{Index, Key};
    match path {
        [Key(list), Index(_), Key(field)] => {
            (list == "patches" || list == "patchesJson6902") && field == "patch"
        }
        [Key(list), Index(_)] => list == "patchesStrategicMerge" && value.contains('\n'),
        _ => false,
    }
}

/// Parses the text of an inline patch and locates its scalars as if it were a file of its own,
/// with the patch entry's `target` standing in for the kind and name it applies to.
/// Returns false when the text is not YAML (kustomize would reject it too): then it is just
/// a string.
fn walk_inline_patch(node: &Node, scope: &mut Scope) -> bool {
    let Node::Scalar(scalar) = node else {
        return false;
    };
    let Ok(parsed) = parse_facts(&scalar.value) else {
        return false;
    };
    let text: Arc<str> = Arc::from(scalar.value.as_str());
    for doc in parsed.documents.iter() {
        let kind = doc
            .root
            .get("kind")
            .and_then(Node::as_str)
            .map(str::to_string);
        let name = doc
            .root
            .at(&["metadata", "name"])
            .and_then(Node::as_str)
            .map(str::to_string);
        let mut inner = Scope {
            document: scope.document,
            kind: kind.or_else(|| scope.entry.target_kind.clone()),
            name: name.or_else(|| scope.entry.target_name.clone()),
            kustomization: false,
            inline: Some(InlineScope {
                outer: scalar.clone(),
                text: text.clone(),
            }),
            entry: Entry::default(),
            sites: scope.sites,
            keep: scope.keep,
        };
        walk_root(&doc.root, &mut inner);
    }
    true
}

fn role_of(path: &[PathSeg<'_>], scope: &Scope) -> Role {
    use PathSeg::{Index, Key};
    let n = path.len();
    let key = |i: usize| match path.get(i) {
        Some(Key(k)) => Some(k.as_ref()),
        _ => None,
    };
    let last = if n > 0 { key(n - 1) } else { None };

    if scope.kustomization {
        if let [Key(list), Index(_), Key(field)] = path {
            if list == "images" {
                return Role::KustomizeImage {
                    field: field.as_ref().into(),
                    name: scope.entry.image_name.as_deref().map(Into::into),
                };
            }
        }
    }
    if last == Some(IRSA_ANNOTATION) && n >= 3 && key(n - 2) == Some("annotations") {
        let service_account = if scope.kind.as_deref() == Some("ServiceAccount") {
            scope.name.clone()
        } else {
            None
        };
        return Role::IrsaRoleArn {
            service_account: service_account.map(Into::into),
        };
    }
    if last == Some("image") && n >= 2 {
        let in_list = n >= 3
            && matches!(&path[n - 2], Index(_))
            && key(n - 3).is_some_and(|k| CONTAINER_LISTS.contains(&k));
        let in_single = key(n - 2).is_some_and(|k| SINGLE_CONTAINERS.contains(&k));
        if in_list || in_single {
            return Role::ContainerImage;
        }
    }
    if n >= 2 && key(n - 2) == Some("image") {
        if let Some(field @ ("repository" | "registry" | "tag")) = last {
            return Role::HelmImage {
                field: field.into(),
            };
        }
    }
    Role::Other
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::locate::locate;

    fn roles(text: &str, file: &str) -> Vec<(String, Role, bool)> {
        let parsed = crate::yaml::parse(text).expect("valid yaml");
        locate(&parsed, file)
            .sites
            .into_iter()
            .map(|s| (s.path.into_string(), s.role, s.in_patch))
            .collect()
    }

    #[test]
    fn finds_images_in_workloads_and_argo_templates() {
        let found = roles(
            "kind: CronJob\nspec:\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          initContainers:\n            - image: a\n---\nkind: WorkflowTemplate\nspec:\n  templates:\n    - name: t\n      script:\n        image: b\n",
            "x.yaml",
        );
        let images: Vec<_> = found
            .iter()
            .filter(|(_, r, _)| *r == Role::ContainerImage)
            .map(|(p, _, _)| p.as_str())
            .collect();
        assert_eq!(
            images,
            [
                "spec.jobTemplate.spec.template.spec.initContainers[0].image",
                "spec.templates[0].script.image"
            ]
        );
    }

    #[test]
    fn locates_irsa_annotation_inside_json6902_inline_patch() {
        let text = "kind: Kustomization\npatches:\n  - target:\n      kind: ServiceAccount\n      name: sa\n    patch: |-\n      - op: replace\n        path: /metadata/annotations/eks.amazonaws.com~1role-arn\n        value: \"arn:aws:iam::123456789012:role/r\"\n";
        let found = roles(text, "kustomization.yaml");
        assert!(found.iter().any(|(p, r, inline)| *inline
            && p == "metadata.annotations.eks.amazonaws.com/role-arn"
            && *r
                == Role::IrsaRoleArn {
                    service_account: Some("sa".into())
                }));
    }
}
