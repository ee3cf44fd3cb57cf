//! IRSA wiring across a kustomize render: which ServiceAccounts each overlay defines, which
//! ones its workloads use, and where the two do not meet.

use super::images::FileImages;
use super::kustomize::{Graph, Kustomization};
use super::DocFacts;
use std::collections::BTreeMap;

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

/// Rendered identity of a resource: (namespace, name), borrowed from the files' facts and the
/// graph: a large repository has thousands of render roots, each collecting these.
type Key<'a> = (&'a str, &'a str);

pub fn irsa_issues(files: &[FileImages], graph: &Graph) -> Vec<IrsaIssue> {
    // Render root → (service accounts defined, service accounts used, role-arn sites).
    let mut per_root: BTreeMap<std::sync::Arc<str>, RootFacts<'_>> = BTreeMap::new();
    for file in files {
        for chain in graph.chains_for(file.path) {
            let Some(root) = chain.last() else { continue };
            let facts = per_root.entry(root.dir.clone()).or_default();
            collect(file, &chain, facts);
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
            root.to_string()
        };
        let issue = |kind, (namespace, name): &Key, (path, site): &(&str, usize)| IrsaIssue {
            path: path.to_string(),
            site: *site,
            kind,
            name: name.to_string(),
            namespace: namespace.to_string(),
            root: shown_root.clone(),
        };
        for (key, at) in &facts.used {
            if !facts.defined.contains(key) && !facts.mentioned.contains(&key.1) {
                out.push(issue(IrsaIssueKind::MissingServiceAccount, key, at));
            }
        }
        for (key, at) in &facts.with_role {
            if !facts.used.iter().any(|(k, _)| k == key) {
                out.push(issue(IrsaIssueKind::UnusedRole, key, at));
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

#[derive(Default)]
struct RootFacts<'a> {
    /// The overlay holds resources that create others (HelmRelease, Argo CD Application,
    /// Flux Kustomization): ServiceAccounts and workloads may come from there, unseen.
    indirect: bool,
    /// Names given anywhere else in the overlay (a chart's `serviceAccount.name` value).
    // Lists, not trees: a render root holds a handful of each, and an empty B-tree node per
    // root costs more than the facts themselves in a repository with thousands of overlays.
    mentioned: Vec<&'a str>,
    defined: Vec<Key<'a>>,
    used: Vec<(Key<'a>, (&'a str, usize))>,
    with_role: Vec<(Key<'a>, (&'a str, usize))>,
}

/// The namespace a resource renders in: the outermost kustomization that sets one wins.
fn namespace_of<'a>(doc: &'a DocFacts, chain: &[&'a Kustomization]) -> &'a str {
    chain
        .iter()
        .rev()
        .find_map(|k| k.namespace.as_deref())
        .or(doc.namespace.as_deref())
        .unwrap_or("default")
}

fn collect<'a>(file: &FileImages<'a>, chain: &[&'a Kustomization], facts: &mut RootFacts<'a>) {
    for doc in &file.located.docs {
        let namespace = namespace_of(doc, chain);
        let kind = doc.kind.as_deref();
        if doc.creates_resources {
            facts.indirect = true;
        }
        if kind == Some("ServiceAccount") {
            if let Some(name) = &doc.name {
                let key = (namespace, name.as_str());
                if !facts.defined.contains(&key) {
                    facts.defined.push(key);
                }
            }
        }
        for (i, site) in file.located.sites.iter().enumerate() {
            if site.document != doc.index || site.in_patch {
                continue;
            }
            let names_account = site.path.ends_with("serviceAccountName");
            // A chart value such as `serviceAccount.name: api` creates the account unseen.
            if !names_account
                && crate::locate::contains_ignore_case(&site.path, "serviceaccount")
                && !facts.mentioned.contains(&site.value.as_str())
            {
                facts.mentioned.push(&site.value);
            }
            if names_account && kind != Some("ServiceAccount") {
                let key = (namespace, site.value.as_str());
                if !site.value.is_empty()
                    && site.value != "default"
                    && !facts.used.iter().any(|(k, _)| *k == key)
                {
                    facts.used.push((key, (file.path, i)));
                }
            } else if matches!(site.role, super::Role::IrsaRoleArn { .. })
                && kind == Some("ServiceAccount")
            {
                if let Some(name) = &doc.name {
                    let key = (namespace, name.as_str());
                    if !facts.with_role.iter().any(|(k, _)| *k == key) {
                        facts.with_role.push((key, (file.path, i)));
                    }
                }
            }
        }
    }
}
