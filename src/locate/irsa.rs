//! IRSA wiring across a kustomize render: which ServiceAccounts each overlay defines, which
//! ones its workloads use, and where the two do not meet.

use super::kustomize::Kustomization;
use super::Located;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

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
type Key = (Box<str>, Box<str>);

/// What IRSA wiring needs of one file, owned: its resources' identities and the few values
/// that name or annotate ServiceAccounts, with indexes in 32 bits (a file with more than 4
/// billion sites is far past the 16 MiB file size limit).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct IrsaFacts {
    docs: Box<[IrsaDoc]>,
    sites: Box<[IrsaSite]>,
}

/// What IRSA wiring needs of a document's identity (`DocFacts`).
#[derive(Debug, PartialEq, Eq)]
struct IrsaDoc {
    index: u32,
    service_account: bool,
    creates_resources: bool,
    name: Option<Box<str>>,
    namespace: Option<Box<str>>,
}

#[derive(Debug, PartialEq, Eq)]
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

/// A render root reaching a file with IRSA facts, through one of the file's chains: the
/// rows are sorted by root (`IrsaRows`), and each root's facts gathered and judged in turn.
pub struct IrsaRow {
    root: Arc<str>,
    /// The file's index in the run's list, and the chain's place among its chains: within a
    /// root, rows come in file order and then in the order the chains were found. That order
    /// decides which site is reported for a name reached by several chains (the first
    /// gathered is kept).
    file: u32,
    chain: u32,
    /// The namespace the chain sets.
    namespace: Option<Arc<str>>,
    path: Arc<str>,
    /// Shared by the file's rows.
    facts: Arc<IrsaFacts>,
}

/// Every root's IRSA rows.
#[derive(Default)]
pub struct IrsaRows(Vec<IrsaRow>);

impl IrsaRows {
    /// Adds the rows of the file at `path` (index `file` in the run's list of files), which
    /// has IRSA `facts` and reaches render roots through `chains` (`Graph::chains_for`).
    pub fn add(
        &mut self,
        path: &Arc<str>,
        file: u32,
        facts: IrsaFacts,
        chains: &[Vec<Arc<Kustomization>>],
    ) {
        let facts = Arc::new(facts);
        for (ordinal, chain) in chains.iter().enumerate() {
            let Some(root) = chain.last() else { continue };
            self.0.push(IrsaRow {
                root: Arc::clone(&root.dir),
                file,
                // Fewer than `MAX_CHAINS` chains per file.
                chain: ordinal as u32,
                namespace: chain_namespace(chain),
                path: Arc::clone(path),
                facts: Arc::clone(&facts),
            });
        }
    }
}

/// The wiring issues of every render root, from the rows of the files that reach each.
pub fn irsa_issues(mut rows: IrsaRows) -> Vec<IrsaIssue> {
    let mut out = Vec::new();
    // Within a root, rows in file order and then in the order the chains were found.
    rows.0
        .sort_unstable_by(|a, b| (&a.root, a.file, a.chain).cmp(&(&b.root, b.file, b.chain)));
    for root_rows in rows.0.chunk_by(|a, b| a.root == b.root) {
        let mut facts = RootFacts::default();
        for row in root_rows {
            collect(&row.path, &row.facts, row.namespace.as_deref(), &mut facts);
        }
        judge_root(&root_rows[0].root, facts, &mut out);
    }
    out.sort();
    out.dedup();
    out
}

/// Adds the issues of the render root at `root`, from its `facts`, to `out`.
fn judge_root(root: &str, facts: RootFacts, out: &mut Vec<IrsaIssue>) {
    if facts.indirect {
        return;
    }
    let shown_root = super::kustomize::shown_dir(root);
    let issue = |kind, (namespace, name): &Key, (path, site): &(Arc<str>, usize)| IrsaIssue {
        path: path.to_string(),
        site: *site,
        kind,
        name: name.to_string(),
        namespace: namespace.to_string(),
        root: shown_root.to_string(),
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

/// What a render root's files say of its ServiceAccounts: its names, not its files. Each
/// name keeps the first site gathered (rows come in file order, then chain order: the order
/// kustomize lists the resources).
#[derive(Default)]
struct RootFacts {
    /// The overlay holds resources that create others (HelmRelease, Argo CD Application,
    /// Flux Kustomization): ServiceAccounts and workloads may come from there, unseen.
    indirect: bool,
    /// Names given anywhere else in the overlay (a chart's `serviceAccount.name` value).
    mentioned: BTreeSet<Box<str>>,
    defined: BTreeSet<Key>,
    used: BTreeMap<Key, (Arc<str>, usize)>,
    with_role: BTreeMap<Key, (Arc<str>, usize)>,
}

/// The namespace a chain of kustomizations sets: the outermost that sets one wins.
fn chain_namespace(chain: &[Arc<Kustomization>]) -> Option<Arc<str>> {
    chain.iter().rev().find_map(|k| k.namespace.clone())
}

/// The namespace a resource renders in: the chain's, else its own.
fn namespace_of<'a>(doc: &'a IrsaDoc, chain_namespace: Option<&'a str>) -> &'a str {
    chain_namespace
        .or(doc.namespace.as_deref())
        .unwrap_or("default")
}

fn collect(
    path: &Arc<str>,
    file: &IrsaFacts,
    chain_namespace: Option<&str>,
    facts: &mut RootFacts,
) {
    for doc in &file.docs {
        let namespace = namespace_of(doc, chain_namespace);
        let key = |name: &str| -> Key { (namespace.into(), name.into()) };
        if doc.creates_resources {
            facts.indirect = true;
        }
        if doc.service_account {
            if let Some(name) = &doc.name {
                facts.defined.insert(key(name));
            }
        }
        for site in &file.sites {
            if site.document != doc.index {
                continue;
            }
            let at = || (Arc::clone(path), site.index as usize);
            let value = &*site.value;
            // A chart value such as `serviceAccount.name: api` creates the account unseen.
            if site.mentions_account && !facts.mentioned.contains(value) {
                facts.mentioned.insert(value.into());
            }
            if site.names_account && !doc.service_account {
                if !value.is_empty() && value != "default" {
                    facts.used.entry(key(value)).or_insert_with(at);
                }
            } else if site.role_arn && doc.service_account {
                if let Some(name) = &doc.name {
                    facts.with_role.entry(key(name)).or_insert_with(at);
                }
            }
        }
    }
}
