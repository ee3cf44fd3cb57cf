//! What IRSA wiring needs of one file: its resources' identities and the values that name or
//! annotate ServiceAccounts (`IrsaFacts`). The repository's rows are in `index::irsa`, the
//! judging in `rules::irsa_service_account`.

use super::Located;

/// What IRSA wiring needs of one file, owned: its resources' identities and the few values
/// that name or annotate ServiceAccounts, with indexes in 32 bits (a file with more than 4
/// billion sites is far past the 16 MiB file size limit).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct IrsaFacts {
    pub(crate) docs: Box<[IrsaDoc]>,
    pub(crate) sites: Box<[IrsaSite]>,
}

/// What IRSA wiring needs of a document's identity (`DocFacts`).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct IrsaDoc {
    pub index: u32,
    pub service_account: bool,
    pub creates_resources: bool,
    pub name: Option<Box<str>>,
    pub namespace: Option<Box<str>>,
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) struct IrsaSite {
    /// Index in the file's located sites.
    pub index: u32,
    pub document: u32,
    pub value: Box<str>,
    /// `...serviceAccountName`: a workload uses the account.
    pub names_account: bool,
    /// Any other path naming a service account (a chart's `serviceAccount.name`).
    pub mentions_account: bool,
    pub role_arn: bool,
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
