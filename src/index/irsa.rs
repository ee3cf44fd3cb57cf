//! IRSA wiring across a kustomize render: each render root's rows (the files that reach it
//! with IRSA facts), gathered into what the root's files say of its ServiceAccounts
//! (`RootFacts`). `rules::irsa_service_account` judges them.

use crate::locate::irsa::{IrsaDoc, IrsaFacts};
use crate::locate::kustomize::Kustomization;
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
pub type Key = (Box<str>, Box<str>);

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

impl IrsaRows {
    /// Hands `judge` each render root with what its files say, in root order, one root at a
    /// time (the gathered facts of every root at once would be a large part of a run's
    /// memory). Within a root, its rows are gathered in file order and then in the order the
    /// chains were found.
    pub fn for_each_root(mut self, mut judge: impl FnMut(&str, RootFacts)) {
        self.0
            .sort_unstable_by(|a, b| (&a.root, a.file, a.chain).cmp(&(&b.root, b.file, b.chain)));
        for root_rows in self.0.chunk_by(|a, b| a.root == b.root) {
            let mut facts = RootFacts::default();
            for row in root_rows {
                collect(&row.path, &row.facts, row.namespace.as_deref(), &mut facts);
            }
            judge(&root_rows[0].root, facts);
        }
    }
}

/// What a render root's files say of its ServiceAccounts: its names, not its files. Each
/// name keeps the first site gathered (rows come in file order, then chain order: the order
/// kustomize lists the resources).
#[derive(Default)]
pub struct RootFacts {
    /// The overlay holds resources that create others (HelmRelease, Argo CD Application,
    /// Flux Kustomization): ServiceAccounts and workloads may come from there, unseen.
    pub indirect: bool,
    /// Names given anywhere else in the overlay (a chart's `serviceAccount.name` value).
    pub mentioned: BTreeSet<Box<str>>,
    pub defined: BTreeSet<Key>,
    pub used: BTreeMap<Key, (Arc<str>, usize)>,
    pub with_role: BTreeMap<Key, (Arc<str>, usize)>,
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
