//! IRSA wiring across a kustomize render: which ServiceAccounts each overlay defines, which
//! ones its workloads use, and where the two do not meet.

use super::kustomize::{Graph, Kustomization};
use super::Located;

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

/// What IRSA wiring needs of one file, owned: its resources' identities and the few values
/// that name or annotate ServiceAccounts. A run holds these of every file that has any, at
/// once, and not the files' other facts: so they are sized exactly, with indexes in 32 bits
/// (a file with more than 4 billion sites is far past the 16 MiB file size limit).
#[derive(Debug, Default)]
pub struct IrsaFacts {
    docs: Box<[IrsaDoc]>,
    sites: Box<[IrsaSite]>,
}

/// What IRSA wiring needs of a document's identity (`DocFacts`).
#[derive(Debug)]
struct IrsaDoc {
    index: u32,
    service_account: bool,
    creates_resources: bool,
    name: Option<Box<str>>,
    namespace: Option<Box<str>>,
}

#[derive(Debug)]
struct IrsaSite {
    /// Index in the file's located sites.
    index: u32,
    document: u32,
    value: Box<str>,
    /// `...serviceAccountName`: a workload uses the account.
    names_account: bool,
    /// Any other path naming a service account (a chart's `serviceAccount.name`).
    mentions_account: bool,
    role_arn: bool,
}

impl IrsaFacts {
    /// `None` when nothing in the file bears on IRSA wiring (most files of a repository).
    pub fn of(located: &Located) -> Option<IrsaFacts> {
        let number = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        let sites: Box<[IrsaSite]> = located
            .sites
            .iter()
            .enumerate()
            .filter(|(_, site)| !site.in_patch)
            .filter_map(|(index, site)| {
                let names_account = site.path.ends_with("serviceAccountName");
                let site = IrsaSite {
                    index: number(index),
                    document: number(site.document),
                    value: site.value.as_str().into(),
                    names_account,
                    mentions_account: !names_account
                        && crate::locate::contains_ignore_case(&site.path, "serviceaccount"),
                    role_arn: matches!(site.role, super::Role::IrsaRoleArn { .. }),
                };
                (site.names_account || site.mentions_account || site.role_arn).then_some(site)
            })
            .collect();
        // Only documents that define an account, make unseen resources or hold such a value
        // can change a verdict.
        let docs: Box<[IrsaDoc]> = located
            .docs
            .iter()
            .filter(|d| {
                d.kind.as_deref() == Some("ServiceAccount")
                    || d.creates_resources
                    || sites.iter().any(|s| s.document == number(d.index))
            })
            .map(|d| IrsaDoc {
                index: number(d.index),
                service_account: d.kind.as_deref() == Some("ServiceAccount"),
                creates_resources: d.creates_resources,
                name: d.name.as_deref().map(Box::from),
                namespace: d.namespace.as_deref().map(Box::from),
            })
            .collect();
        (!docs.is_empty()).then_some(IrsaFacts { docs, sites })
    }
}

/// The wiring issues of every render root, from each file's path and IRSA facts.
pub fn irsa_issues(files: &[(&str, &IrsaFacts)], graph: &Graph) -> Vec<IrsaIssue> {
    // Each file's render roots, with the namespace the chain to each sets: grouped by root
    // (in file order within a root), so that one root's facts are gathered, judged and
    // dropped before the next. A repository has thousands of roots; their facts all at once
    // were most of this pass's memory.
    // Counted first, so that the list takes what it needs and no more (grown by doubling,
    // it would hold up to twice that at its peak, while the other passes run beside it).
    let count = files
        .iter()
        .map(|&(path, _)| graph.chains_for(path).len())
        .sum();
    // A row per file and chain: the root, the file, the chain's place among the file's
    // chains, and the namespace the chain sets (40 bytes: indexes are 32-bit).
    let mut reach: Vec<(&str, u32, u32, Option<&str>)> = Vec::with_capacity(count);
    for (index, &(path, _)) in files.iter().enumerate() {
        for (ordinal, chain) in graph.chains_for(path).iter().enumerate() {
            let Some(root) = chain.last() else { continue };
            reach.push((
                &root.dir,
                index as u32,
                ordinal as u32,
                chain_namespace(chain),
            ));
        }
    }
    // In place (a stable sort takes a buffer half the list's size), in the order a stable
    // sort by root gave: files in order within a root, and one file's chains in the order
    // they were found. That order decides which site is reported for a name reached by
    // several chains (the first gathered is kept).
    reach.sort_unstable_by_key(|&(root, index, ordinal, _)| (root, index, ordinal));
    let mut out = Vec::new();
    for group in reach.chunk_by(|a, b| a.0 == b.0) {
        let root = group[0].0;
        let mut facts = RootFacts::default();
        for &(_, index, _, namespace) in group {
            let (path, file) = files[index as usize];
            collect(path, file, namespace, &mut facts);
        }
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

/// The namespace a chain of kustomizations sets: the outermost that sets one wins.
fn chain_namespace<'a>(chain: &[&'a Kustomization]) -> Option<&'a str> {
    chain.iter().rev().find_map(|k| k.namespace.as_deref())
}

/// The namespace a resource renders in: the chain's, else its own.
fn namespace_of<'a>(doc: &'a IrsaDoc, chain_namespace: Option<&'a str>) -> &'a str {
    chain_namespace
        .or(doc.namespace.as_deref())
        .unwrap_or("default")
}

fn collect<'a>(
    path: &'a str,
    file: &'a IrsaFacts,
    chain_namespace: Option<&'a str>,
    facts: &mut RootFacts<'a>,
) {
    for doc in &file.docs {
        let namespace = namespace_of(doc, chain_namespace);
        if doc.creates_resources {
            facts.indirect = true;
        }
        if doc.service_account {
            if let Some(name) = &doc.name {
                let key = (namespace, &**name);
                if !facts.defined.contains(&key) {
                    facts.defined.push(key);
                }
            }
        }
        for site in &file.sites {
            if site.document != doc.index {
                continue;
            }
            let i = site.index as usize;
            let value = &*site.value;
            // A chart value such as `serviceAccount.name: api` creates the account unseen.
            if site.mentions_account && !facts.mentioned.contains(&value) {
                facts.mentioned.push(value);
            }
            if site.names_account && !doc.service_account {
                let key = (namespace, value);
                if !value.is_empty()
                    && value != "default"
                    && !facts.used.iter().any(|(k, _)| *k == key)
                {
                    facts.used.push((key, (path, i)));
                }
            } else if site.role_arn && doc.service_account {
                if let Some(name) = &doc.name {
                    let key = (namespace, &**name);
                    if !facts.with_role.iter().any(|(k, _)| *k == key) {
                        facts.with_role.push((key, (path, i)));
                    }
                }
            }
        }
    }
}
