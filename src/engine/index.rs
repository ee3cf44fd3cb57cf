//! The index phase: each file's facts are taken once (on every core) for the repository-wide
//! passes, which keep only what they need of them: its images judged against the kustomize
//! graph, its IRSA wiring, the accounts it names and the regions of its ECR hosts.

use super::files::Analyzed;
use super::load::parallel_map;
use super::FileError;
use crate::index::accounts::{overlay_rows, OverlayRows, RegionCounts};
use crate::index::irsa::IrsaRows;
use crate::locate::aws::{find_accounts, AccountSite};
use crate::locate::images::{tag_uses, FileImages, MissingOverride, TagUse};
use crate::locate::irsa::IrsaFacts;
use crate::locate::kustomize::Graph;
use crate::locate::tags::TagPolicy;
use crate::locate::Located;
use crate::resolve::AccountResolver;
use crate::rules::judges::missing_overrides_of;
use std::sync::Arc;

/// How many files are indexed at a time (on every core): what each file's passes made waits
/// only for its slice, not for the whole repository, before it goes to its list.
const SLICE: usize = 1024;

/// What the repository-wide passes made of the files.
#[derive(Default)]
pub(super) struct Index {
    /// Every tag use, in the files' (path) order.
    pub uses: Vec<TagUse>,
    pub missing: Vec<MissingOverride>,
    pub irsa_rows: IrsaRows,
    pub overlay_rows: OverlayRows,
    pub region_counts: RegionCounts,
    /// The files whose facts could not be had (by index): neither checked nor fixed, since
    /// the repository-wide facts lack them.
    pub lost: Vec<usize>,
}

/// Which tag uses the index keeps: those something after it reads. Most images of a
/// repository are pinned, and none of those is read unless the registry is asked.
pub(super) struct WantedUses {
    /// Every use (`--registry`, `--require-image`: the registry is asked about them all).
    pub all: bool,
    /// Semver tags (`--strict` reports them).
    pub semver: bool,
    /// One commit-pinned tag per image prefix: a source without a tag template infers it
    /// from them (`pins::resolve_pins`).
    pub template_examples: bool,
    /// The image prefixes whose tag-template example was kept (`pins::template_example_key`).
    pub examples: std::collections::HashSet<Option<String>>,
}

impl WantedUses {
    fn keep(&mut self, use_: &TagUse) -> bool {
        use crate::locate::tags::TagKind;
        match use_.kind {
            _ if self.all => true,
            TagKind::Mutable | TagKind::Missing => true,
            TagKind::Semver => self.semver,
            TagKind::CommitPinned | TagKind::Other => {
                self.template_examples
                    && crate::resolve::pins::template_example_key(use_)
                        .is_some_and(|key| self.examples.insert(key))
            }
        }
    }
}

/// What one file adds to the index.
struct FileIndex {
    uses: Vec<TagUse>,
    missing: Vec<MissingOverride>,
    irsa: Option<(
        IrsaFacts,
        Vec<Vec<Arc<crate::locate::kustomize::Kustomization>>>,
    )>,
    overlay_rows: Vec<(Arc<str>, u64, u32)>,
    ecr_regions: Vec<Box<str>>,
    path: Arc<str>,
}

/// The index of `files` (in path order); the errors of the files whose facts could not be
/// had go to `errors`.
pub(super) fn index(
    files: &[Analyzed],
    graph: &Graph,
    accounts: &AccountResolver,
    policy: &TagPolicy,
    keep_prefixes: &[String],
    wanted: WantedUses,
    errors: &mut Vec<FileError>,
) -> Index {
    let mut out = Index::default();
    let mut wanted = wanted;
    for (slice_number, slice) in files.chunks(SLICE).enumerate() {
        let first_index = slice_number * SLICE;
        let per_file = parallel_map(slice, |file| {
            index_file(file, graph, accounts, policy, keep_prefixes)
        });
        for (offset, indexed) in per_file.into_iter().enumerate() {
            match indexed {
                Ok(file) => {
                    out.uses
                        .extend(file.uses.into_iter().filter(|u| wanted.keep(u)));
                    out.missing.extend(file.missing);
                    // Fewer than four billion files (`MAX_FILES`).
                    let index = (first_index + offset) as u32;
                    if let Some((facts, chains)) = file.irsa {
                        out.irsa_rows.add(&file.path, index, facts, &chains);
                    }
                    out.overlay_rows.add(index, file.overlay_rows);
                    for region in file.ecr_regions {
                        *out.region_counts.entry(region).or_default() += 1;
                    }
                }
                Err(error) => {
                    errors.push(error);
                    out.lost.push(first_index + offset);
                }
            }
        }
    }
    // The rules look up a file's uses by path (resolve::for_path). They come in the files'
    // order, which is by path: checked, rather than sorted with the buffer a stable sort
    // takes.
    if !out.uses.is_sorted_by(|a, b| a.path <= b.path) {
        out.uses.sort_by(|a, b| a.path.cmp(&b.path));
    }
    out
}

fn index_file(
    file: &Analyzed,
    graph: &Graph,
    accounts: &AccountResolver,
    policy: &TagPolicy,
    keep_prefixes: &[String],
) -> Result<FileIndex, FileError> {
    let located = file.facts(keep_prefixes)?.located;
    // One copy of the path for every fact of the file that names it.
    let path: Arc<str> = Arc::from(file.entry.rel.as_str());
    let chains = graph.chains_for(&path);
    let images = FileImages {
        path: &path,
        located: &located,
        chains: &chains,
    };
    let one = std::slice::from_ref(&images);
    let account_uses = AccountUses::of(&located, accounts);
    let uses = tag_uses(one, graph, policy);
    let missing = missing_overrides_of(one);
    let overlay_rows = overlay_rows(&path, &chains, &account_uses.real, graph);
    // The chains go with the IRSA facts, to make their rows.
    let irsa = IrsaFacts::of(&located).map(|facts| (facts, chains));
    Ok(FileIndex {
        uses,
        missing,
        irsa,
        overlay_rows,
        ecr_regions: account_uses.ecr_regions,
        path,
    })
}

/// What the account passes need of one file's values, so that its other facts need not be
/// kept while they run.
#[derive(Debug, Default)]
pub(super) struct AccountUses {
    /// The real account of each reference to one, as a number (twelve digits, so their order
    /// is the text's), once per reference: made into the file's `overlay_rows`.
    pub real: Box<[u64]>,
    /// The region of each ECR registry host of a real or placeholder account: counted into
    /// `RegionCounts` at once, not kept.
    pub ecr_regions: Vec<Box<str>>,
}

impl AccountUses {
    fn of(located: &Located, accounts: &AccountResolver) -> AccountUses {
        let mut real = Vec::new();
        let mut ecr_regions = Vec::new();
        for site in &located.sites {
            for found in find_accounts(&site.value) {
                let is_real = accounts.is_real(found.account);
                if is_real {
                    real.push(found.account.parse().unwrap_or_default());
                }
                // AWS's own registries are in every region: they say nothing of the cluster's.
                if is_real || accounts.is_placeholder(found.account) {
                    if let AccountSite::EcrHost { region, .. } = found.site {
                        ecr_regions.push(region.into());
                    }
                }
            }
        }
        AccountUses {
            real: real.into(),
            ecr_regions,
        }
    }
}
