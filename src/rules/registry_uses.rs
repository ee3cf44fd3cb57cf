//! What both registry rules walk: the tag uses of a file whose rendered ECR image the registry
//! was asked about.

use crate::locate::images::TagUse;
use crate::resolve::registry::{EcrRepo, RegistryFacts};
use crate::resolve::Resolved;

/// The tag uses of `file` whose rendered ECR image the registry was asked about, with the
/// site each is written at.
pub fn checked_uses<'a>(
    file: &'a crate::rules::FileInput<'a>,
    resolved: &'a Resolved,
) -> impl Iterator<
    Item = (
        &'a TagUse,
        &'a crate::locate::Site,
        EcrRepo,
        String,
        &'a RegistryFacts,
    ),
> + 'a {
    let facts = resolved.registry.as_ref();
    file.uses.iter().filter_map(move |use_| {
        let facts = facts?;
        let (repo, tag) = resolved.rendered(use_)?;
        let site = file.located.sites.get(use_.site)?;
        Some((use_, site, repo, tag, facts))
    })
}
