//! IRSA wiring across a kustomize render: which ServiceAccounts each overlay defines, which
//! ones its workloads use, and where the two do not meet.

use super::images::FileImages;
use super::kustomize::{Graph, Kustomization};
use crate::yaml::{Node, ParsedFile};
use std::collections::{BTreeMap, BTreeSet};

/// One file as this pass sees it: its parse and located sites.
pub struct FileDocs<'a> {
    pub path: &'a str,
    pub parsed: &'a ParsedFile,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum IrsaIssueKind {
    /// A workload names a ServiceAccount no resource of the overlay defines in its namespace.
    MissingServiceAccount,
    /// A ServiceAccount with an IRSA role that no workload of the overlay uses.
    UnusedRole,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct IrsaIssue {
    pub path: String,
    /// Index in the file's located sites: the `serviceAccountName` for a missing account,
    /// the role-arn annotation for an unused role.
    pub site: usize,
    pub kind: IrsaIssueKind,
    pub name: String,
    pub namespace: String,
    pub root: String,
}

/// Rendered identity of a resource: (namespace, name).
type Key = (String, String);

pub fn irsa_issues(docs: &[FileDocs], images: &[FileImages], graph: &Graph) -> Vec<IrsaIssue> {
    // Render root → (service accounts defined, service accounts used, role-arn sites).
    let mut per_root: BTreeMap<String, RootFacts> = BTreeMap::new();
    for (doc_file, img_file) in docs.iter().zip(images) {
        for chain in graph.chains_for(doc_file.path) {
            let Some(root) = chain.last() else { continue };
            let facts = per_root.entry(root.dir.clone()).or_default();
            collect(doc_file, img_file, &chain, facts);
        }
    }
    let mut out = Vec::new();
    for (root, facts) in per_root {
        if facts.indirect {
            continue;
        }
        let shown_root = if root.is_empty() {
            ".".to_string()
        } else {
            root
        };
        let issue = |kind, (namespace, name): &Key, (path, site): &(String, usize)| IrsaIssue {
            path: path.clone(),
            site: *site,
            kind,
            name: name.clone(),
            namespace: namespace.clone(),
            root: shown_root.clone(),
        };
        for (key, at) in &facts.used {
            if !facts.defined.contains(key) && !facts.mentioned.contains(&key.1) {
                out.push(issue(IrsaIssueKind::MissingServiceAccount, key, at));
            }
        }
        for (key, at) in &facts.with_role {
            if !facts.used.contains_key(key) {
                out.push(issue(IrsaIssueKind::UnusedRole, key, at));
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

#[derive(Default)]
struct RootFacts {
    /// The overlay holds resources that create others (HelmRelease, Argo CD Application,
    /// Flux Kustomization): ServiceAccounts and workloads may come from there, unseen.
    indirect: bool,
    /// Names given anywhere else in the overlay (a chart's `serviceAccount.name` value).
    mentioned: BTreeSet<String>,
    defined: BTreeSet<Key>,
    used: BTreeMap<Key, (String, usize)>,
    with_role: BTreeMap<Key, (String, usize)>,
}

/// The namespace a resource renders in: the outermost kustomization that sets one wins.
fn namespace_of(doc: &Node, chain: &[&Kustomization]) -> String {
    chain
        .iter()
        .rev()
        .find_map(|k| k.namespace.clone())
        .or_else(|| {
            doc.at(&["metadata", "namespace"])
                .and_then(Node::as_str)
                .map(str::to_string)
        })
        .unwrap_or_else(|| "default".to_string())
}

fn collect(docs: &FileDocs, images: &FileImages, chain: &[&Kustomization], facts: &mut RootFacts) {
    for doc in &docs.parsed.documents {
        let namespace = namespace_of(&doc.root, chain);
        let kind = doc.root.get("kind").and_then(Node::as_str);
        let api = doc
            .root
            .get("apiVersion")
            .and_then(Node::as_str)
            .unwrap_or("");
        if matches!(
            kind,
            Some("HelmRelease" | "Application" | "ApplicationSet" | "HelmChart")
        ) || api.starts_with("kustomize.toolkit.fluxcd.io")
        {
            facts.indirect = true;
        }
        if kind == Some("ServiceAccount") {
            if let Some(name) = doc.root.at(&["metadata", "name"]).and_then(Node::as_str) {
                facts.defined.insert((namespace.clone(), name.to_string()));
            }
        }
        for (i, site) in images.located.sites.iter().enumerate() {
            if site.document != doc.index || site.in_patch {
                continue;
            }
            let key = (namespace.clone(), site.value.clone());
            let names_account = site.path.ends_with("serviceAccountName");
            // A chart value such as `serviceAccount.name: api` creates the account unseen.
            if !names_account && site.path.to_ascii_lowercase().contains("serviceaccount") {
                facts.mentioned.insert(site.value.clone());
            }
            if names_account && kind != Some("ServiceAccount") {
                if !site.value.is_empty() && site.value != "default" {
                    facts.used.entry(key).or_insert((docs.path.to_string(), i));
                }
            } else if matches!(site.role, super::Role::IrsaRoleArn { .. })
                && kind == Some("ServiceAccount")
            {
                if let Some(name) = doc.root.at(&["metadata", "name"]).and_then(Node::as_str) {
                    facts
                        .with_role
                        .entry((namespace.clone(), name.to_string()))
                        .or_insert((docs.path.to_string(), i));
                }
            }
        }
    }
}
