//! Repository-wide facts worked out between the index phase and the rules: the cluster's
//! region and what ECR holds.

use super::{Run, RunError};
use crate::config::Config;
use crate::index::accounts::RegionCounts;

/// How far `--require-image` walks back a branch before giving up.
pub(super) const REQUIRE_IMAGE_DEPTH: usize = 50;

/// `--registry`: asks ECR about every image the repository renders once fixed, and keeps the
/// answers for the registry rules; says so, without any network, when no image is on ECR.
/// `uses` are every tag use of the repository.
pub(super) fn check_registry(
    run: &mut Run,
    client: Option<Box<dyn crate::resolve::registry::Registry>>,
    uses: &[crate::locate::images::TagUse],
) -> Result<(), RunError> {
    let (wanted, passed_over) = crate::resolve::registry::wanted(
        &run.resolved.accounts,
        |u| run.resolved.rendered(u),
        uses,
    );
    if wanted.is_empty() {
        run.registry_notes.push(
            "registry: no image of this repository is in a private ECR registry; nothing was checked".into(),
        );
        run.resolved.registry = Some(Default::default());
        return Ok(());
    }
    let client = match client {
        Some(c) => c,
        None => match crate::resolve::registry::connect() {
            Ok(c) => c,
            Err(e) => {
                run.source_errors
                    .push(format!("registry: not checked: {e}"));
                return Ok(());
            }
        },
    };
    let facts = crate::resolve::registry::check(client.as_ref(), &wanted);
    let tags: usize = wanted.values().map(|t| t.len()).sum();
    run.registry_notes.push(format!(
        "registry: checked {} of {tags} tags in {} of {} ECR repositories{}",
        facts.checked_tags,
        facts.checked_repos,
        wanted.len(),
        if passed_over > 0 {
            format!("; {passed_over} images in AWS-owned or placeholder registries passed over")
        } else {
            String::new()
        }
    ));
    // What could not be checked is an error of the run, never a missing image.
    run.source_errors
        .extend(facts.unchecked.iter().map(|u| format!("registry: {u}")));
    run.resolved.registry = Some(facts);
    Ok(())
}

/// The region the cluster runs in: configured, or the region of more than half of the
/// repository's ECR registry hosts.
pub(super) fn cluster_region(config: &Config, counts: &RegionCounts) -> Option<(String, String)> {
    if let Some(region) = &config.cluster.region {
        return Some((region.clone(), "cluster.region in manifix.yaml".into()));
    }
    let total: usize = counts.values().sum();
    let (region, &n) = counts.iter().max_by_key(|(_, n)| **n)?;
    (n * 2 > total).then(|| {
        (
            region.to_string(),
            format!("{n} of the repository's {total} ECR registry references use it"),
        )
    })
}
