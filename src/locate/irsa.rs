//! IRSA wiring across a kustomize render: which ServiceAccounts each overlay defines, which
//! ones its workloads use, and where the two do not meet.

use super::kustomize::Kustomization;
use super::Located;
use crate::external::{ExternalSort, Record};
use crate::form::{Reader, Writer};
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

/// Rendered identity of a resource: (namespace, name), borrowed from the rows of the root
/// being judged.
type Key<'a> = (&'a str, &'a str);

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

    fn encode(&self, w: &mut Writer) {
        w.number(self.docs.len());
        for doc in &self.docs {
            w.number(doc.index as usize);
            w.byte(u8::from(doc.service_account) | u8::from(doc.creates_resources) << 1);
            w.optional(doc.name.as_deref());
            w.optional(doc.namespace.as_deref());
        }
        w.number(self.sites.len());
        for site in &self.sites {
            w.number(site.index as usize);
            w.number(site.document as usize);
            w.text(&site.value);
            w.byte(
                u8::from(site.names_account)
                    | u8::from(site.mentions_account) << 1
                    | u8::from(site.role_arn) << 2,
            );
        }
    }

    fn decode(r: &mut Reader) -> Option<IrsaFacts> {
        let number = |r: &mut Reader| u32::try_from(r.number()?).ok();
        let docs = (0..r.count(4)?)
            .map(|_| {
                let index = number(r)?;
                let flags = r.byte().filter(|f| *f < 4)?;
                Some(IrsaDoc {
                    index,
                    service_account: flags & 1 != 0,
                    creates_resources: flags & 2 != 0,
                    name: r.optional()?.map(Into::into),
                    namespace: r.optional()?.map(Into::into),
                })
            })
            .collect::<Option<_>>()?;
        let sites = (0..r.count(4)?)
            .map(|_| {
                let index = number(r)?;
                let document = number(r)?;
                let value = r.text()?.into();
                let flags = r.byte().filter(|f| *f < 8)?;
                Some(IrsaSite {
                    index,
                    document,
                    value,
                    names_account: flags & 1 != 0,
                    mentions_account: flags & 2 != 0,
                    role_arn: flags & 4 != 0,
                })
            })
            .collect::<Option<_>>()?;
        Some(IrsaFacts { docs, sites })
    }

    fn weight(&self) -> usize {
        let texts = |d: &IrsaDoc| {
            d.name.as_ref().map_or(0, |n| n.len()) + d.namespace.as_ref().map_or(0, |n| n.len())
        };
        self.docs
            .iter()
            .map(|d| texts(d) + std::mem::size_of::<IrsaDoc>())
            .chain(
                self.sites
                    .iter()
                    .map(|s| s.value.len() + std::mem::size_of::<IrsaSite>()),
            )
            .sum()
    }
}

/// A render root reaching a file with IRSA facts, through one of the file's chains: the
/// rows of every root are sorted on disk by root (`IrsaRows`), so that one root's facts are
/// gathered, judged and dropped before the next, and a run never holds them all.
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
    /// Shared by the file's rows while they wait in memory; each row is written whole.
    facts: Arc<IrsaFacts>,
}

impl Record for IrsaRow {
    fn encode(&self, w: &mut Writer) {
        w.text(&self.root);
        w.number(self.file as usize);
        w.number(self.chain as usize);
        w.optional(self.namespace.as_deref());
        w.text(&self.path);
        self.facts.encode(w);
    }

    fn decode(r: &mut Reader) -> Option<IrsaRow> {
        Some(IrsaRow {
            root: r.text()?.into(),
            file: u32::try_from(r.number()?).ok()?,
            chain: u32::try_from(r.number()?).ok()?,
            namespace: r.optional()?.map(Into::into),
            path: r.text()?.into(),
            facts: Arc::new(IrsaFacts::decode(r)?),
        })
    }

    fn weight(&self) -> usize {
        // The facts are shared by the file's rows, but counted in each: a bound, not a sum.
        self.root.len()
            + self.namespace.as_ref().map_or(0, |n| n.len())
            + self.path.len()
            + self.facts.weight()
    }
}

type RowOrder = fn(&IrsaRow, &IrsaRow) -> std::cmp::Ordering;

/// Every root's IRSA rows, sorted on disk as they are added.
pub struct IrsaRows(ExternalSort<IrsaRow, RowOrder>);

impl Default for IrsaRows {
    fn default() -> Self {
        IrsaRows(ExternalSort::new("the IRSA wiring facts", |a, b| {
            (&a.root, a.file, a.chain).cmp(&(&b.root, b.file, b.chain))
        }))
    }
}

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

/// The wiring issues of every render root, from the rows of the files that reach each; an
/// error when the rows cannot be read back whole.
pub fn irsa_issues(rows: IrsaRows) -> Result<Vec<IrsaIssue>, String> {
    let mut out = Vec::new();
    let mut group: Vec<IrsaRow> = Vec::new();
    let mut rows = rows.0.finish()?.peekable();
    while let Some(row) = rows.next() {
        let row = row?;
        let last_of_root = match rows.peek() {
            Some(Ok(next)) => next.root != row.root,
            _ => true,
        };
        group.push(row);
        if last_of_root {
            judge_root(&group, &mut out);
            group.clear();
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// Adds the issues of one render root, from its rows (in order), to `out`.
fn judge_root(group: &[IrsaRow], out: &mut Vec<IrsaIssue>) {
    let Some(first) = group.first() else { return };
    let mut facts = RootFacts::default();
    for row in group {
        collect(&row.path, &row.facts, row.namespace.as_deref(), &mut facts);
    }
    if facts.indirect {
        return;
    }
    let shown_root = if first.root.is_empty() {
        ".".to_string()
    } else {
        first.root.to_string()
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
fn chain_namespace(chain: &[Arc<Kustomization>]) -> Option<Arc<str>> {
    chain.iter().rev().find_map(|k| k.namespace.clone())
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
