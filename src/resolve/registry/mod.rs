//! Does the registry hold what the manifests point at? For every ECR image the repository
//! renders (after the fixes manifix would make), the repository and the exact tag must exist,
//! or pods go to ImagePullBackOff. The AWS calls live in `ecr` behind the `ecr` feature; this
//! module decides what to ask and keeps the answers for the rules.

#[cfg(feature = "ecr")]
mod ecr;

use crate::locate::aws::{find_accounts, AccountSite, AWS_OWNED_ACCOUNTS};
use crate::locate::images::TagUse;
use crate::resolve::account::AccountResolver;
use std::collections::{BTreeMap, BTreeSet};

/// A private ECR repository: `<account>.dkr.ecr.<region>.amazonaws.com/<repository>`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EcrRepo {
    pub account: String,
    pub region: String,
    pub repository: String,
}

impl std::fmt::Display for EcrRepo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}.dkr.ecr.{}.amazonaws.com/{}",
            self.account, self.region, self.repository
        )
    }
}

/// The ECR repository an image name (registry/repository, no tag) points at.
pub fn ecr_repo(image: &str) -> Option<EcrRepo> {
    let (host, repository) = image.split_once('/')?;
    let found = find_accounts(host).into_iter().next()?;
    let AccountSite::EcrHost {
        region,
        host: matched,
    } = found.site
    else {
        return None;
    };
    (matched == host && !repository.is_empty()).then(|| EcrRepo {
        account: found.account.to_string(),
        region: region.to_string(),
        repository: repository.to_string(),
    })
}

/// The ECR repository of a tag use once placeholder accounts are replaced by the target.
pub fn fixed_repo(use_: &TagUse, accounts: &AccountResolver) -> Option<EcrRepo> {
    let mut image = use_.image.to_string();
    if let Some(target) = accounts.target_for(&use_.path) {
        for found in find_accounts(&use_.image).into_iter().rev() {
            if accounts.is_placeholder(found.account) {
                image.replace_range(found.range, &target.account);
            }
        }
    }
    ecr_repo(&image)
}

/// What the registry said, for the rules and the run's notes.
#[derive(Debug, Default)]
pub struct RegistryFacts {
    pub missing_repos: BTreeSet<EcrRepo>,
    pub missing_tags: BTreeSet<(EcrRepo, String)>,
    /// Repositories whose answer was had, and the tags checked in them.
    pub checked_repos: usize,
    pub checked_tags: usize,
    /// One line per thing that could not be checked, and why.
    pub unchecked: Vec<String>,
}

/// The tags of a repository that exist; `Ok(None)` when the repository itself does not;
/// `Err` with the reason when the registry could not be asked.
pub type Answer = Result<Option<BTreeSet<String>>, String>;

/// Something that can answer for ECR: the SDK client, or (in tests of the logic) a fake.
pub trait Registry: Sync {
    /// Which of `tags` exist in `repo`; `Err` when the repository is missing (`Ok(None)`)
    /// cannot be told from an error.
    fn tags_present(
        &self,
        repo: &EcrRepo,
        tags: &[String],
    ) -> Result<Option<BTreeSet<String>>, String>;

    /// Checks many repositories at once (bounded concurrency in the SDK client).
    fn check_all(&self, wanted: &BTreeMap<EcrRepo, BTreeSet<String>>) -> Vec<(EcrRepo, Answer)> {
        wanted
            .iter()
            .map(|(repo, tags)| {
                let tags: Vec<String> = tags.iter().cloned().collect();
                (repo.clone(), self.tags_present(repo, &tags))
            })
            .collect()
    }
}

/// The registry client for this build: ECR through the AWS SDK's standard credential chain,
/// region from each image's host, `AWS_ENDPOINT_URL` honoured.
pub fn connect() -> Result<Box<dyn Registry>, String> {
    if crate::resolve::git::offline() {
        return Ok(Box::new(Offline));
    }
    #[cfg(feature = "ecr")]
    {
        ecr::Ecr::connect().map(|c| Box::new(c) as Box<dyn Registry>)
    }
    #[cfg(not(feature = "ecr"))]
    {
        Err("this manifix was built without the `ecr` feature: rebuild with default features to check registries".into())
    }
}

/// The registry under `--offline`: every question is left unanswered, with that reason, so
/// what needed it is reported as not checked (never as missing) and no request is made.
struct Offline;

impl Registry for Offline {
    fn tags_present(&self, _: &EcrRepo, _: &[String]) -> Result<Option<BTreeSet<String>>, String> {
        Err("--offline (the registry needs the network)".into())
    }
}

/// The tags to check per ECR repository, and the images passed over (AWS's own registries),
/// of `uses`: every tag use of the repository, as `rendered` says it renders once fixed.
pub fn wanted(
    accounts: &AccountResolver,
    rendered: impl Fn(&TagUse) -> Option<(EcrRepo, String)>,
    uses: &[TagUse],
) -> (BTreeMap<EcrRepo, BTreeSet<String>>, usize) {
    let mut wanted: BTreeMap<EcrRepo, BTreeSet<String>> = BTreeMap::new();
    let mut aws_owned = 0;
    for use_ in uses {
        let Some((repo, tag)) = rendered(use_) else {
            continue;
        };
        if AWS_OWNED_ACCOUNTS.contains(&repo.account.as_str())
            || accounts.is_placeholder(&repo.account)
        {
            aws_owned += 1;
            continue;
        }
        wanted.entry(repo).or_default().insert(tag);
    }
    (wanted, aws_owned)
}

/// Asks the registry about every wanted repository and tag.
pub fn check(
    registry: &dyn Registry,
    wanted: &BTreeMap<EcrRepo, BTreeSet<String>>,
) -> RegistryFacts {
    let mut facts = RegistryFacts::default();
    let mut failures: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (repo, answer) in registry.check_all(wanted) {
        let tags = &wanted[&repo];
        match answer {
            Ok(None) => {
                facts.checked_repos += 1;
                facts.missing_repos.insert(repo);
            }
            Ok(Some(present)) => {
                facts.checked_repos += 1;
                facts.checked_tags += tags.len();
                for tag in tags.difference(&present) {
                    facts.missing_tags.insert((repo.clone(), tag.clone()));
                }
            }
            Err(reason) => failures.entry(reason).or_default().push(format!(
                "{} ({} {})",
                repo,
                tags.len(),
                if tags.len() == 1 { "tag" } else { "tags" }
            )),
        }
    }
    for (reason, repos) in failures {
        facts
            .unchecked
            .push(format!("not checked: {}: {reason}", repos.join(", ")));
    }
    facts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_ecr_repositories_from_image_names() {
        let r = ecr_repo("465002806239.dkr.ecr.ap-southeast-2.amazonaws.com/team/app").unwrap();
        assert_eq!(r.account, "465002806239");
        assert_eq!(r.region, "ap-southeast-2");
        assert_eq!(r.repository, "team/app");
        assert_eq!(
            r.to_string(),
            "465002806239.dkr.ecr.ap-southeast-2.amazonaws.com/team/app"
        );
        assert!(ecr_repo("docker.io/library/nginx").is_none());
        assert!(ecr_repo("public.ecr.aws/x/y").is_none());
    }
}
