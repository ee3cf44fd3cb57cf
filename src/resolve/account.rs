//! Which real AWS account replaces a placeholder: from `--account`, from `manifix.yaml`, or
//! inferred when the repository itself names exactly one real account.

use crate::config::Config;
use crate::locate::aws::{find_accounts, AWS_OWNED_ACCOUNTS, DEFAULT_PLACEHOLDERS};
use regex::Regex;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

/// Where a target account came from, so messages can say why it was chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Flag,
    Config,
    ConfigPath(String),
    /// The only real account in the repository, first seen at this `path:line`.
    Inferred(String),
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::Flag => write!(f, "from --account"),
            Origin::Config => write!(f, "from accounts.target in manifix.yaml"),
            Origin::ConfigPath(glob) => {
                write!(f, "from the accounts.paths entry {glob:?} in manifix.yaml")
            }
            Origin::Inferred(at) => write!(
                f,
                "inferred: the only real account in the repository, seen at {at}"
            ),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetAccount {
    pub account: String,
    pub origin: Origin,
}

/// Real accounts seen in the repository, each with the first place it was seen.
#[derive(Debug, Default, Clone)]
pub struct AccountCensus {
    pub seen: BTreeMap<String, String>,
}

impl AccountCensus {
    pub fn record(&mut self, account: &str, place: impl FnOnce() -> String) {
        if !self.seen.contains_key(account) {
            self.seen.insert(account.to_string(), place());
        }
    }
}

#[derive(Debug, Default)]
pub struct AccountResolver {
    placeholders: BTreeSet<String>,
    ignored: BTreeSet<String>,
    flag: Option<String>,
    config_target: Option<String>,
    path_targets: Vec<(globset::GlobMatcher, String, String)>,
    inferred: Option<(String, String)>,
    /// Real accounts seen, when more than one (the reason inference gave up).
    pub ambiguous: Vec<(String, String)>,
}

impl AccountResolver {
    pub fn new(config: &Config, flag: Option<&str>) -> AccountResolver {
        let placeholders = DEFAULT_PLACEHOLDERS
            .iter()
            .map(|s| s.to_string())
            .chain(config.accounts.placeholders.iter().map(|a| a.0.clone()))
            .collect();
        let ignored = AWS_OWNED_ACCOUNTS
            .iter()
            .map(|s| s.to_string())
            .chain(config.accounts.ignore.iter().map(|a| a.0.clone()))
            .collect();
        let path_targets = config
            .accounts
            .paths
            .iter()
            .filter_map(|p| {
                let glob = globset::Glob::new(&p.path).ok()?;
                Some((glob.compile_matcher(), p.path.clone(), p.target.0.clone()))
            })
            .collect();
        AccountResolver {
            placeholders,
            ignored,
            flag: flag.map(str::to_string),
            config_target: config.accounts.target.as_ref().map(|a| a.0.clone()),
            path_targets,
            inferred: None,
            ambiguous: Vec::new(),
        }
    }

    pub fn is_placeholder(&self, account: &str) -> bool {
        self.placeholders.contains(account)
    }

    /// A real account: neither a placeholder nor one AWS owns or the user told us to ignore.
    pub fn is_real(&self, account: &str) -> bool {
        !self.placeholders.contains(account) && !self.ignored.contains(account)
    }

    /// Settles inference from the accounts the repository names.
    pub fn infer_from(&mut self, census: &AccountCensus) {
        let real: Vec<(String, String)> = census
            .seen
            .iter()
            .filter(|(a, _)| self.is_real(a))
            .map(|(a, p)| (a.clone(), p.clone()))
            .collect();
        match real.as_slice() {
            [one] => self.inferred = Some(one.clone()),
            [] => {}
            _ => self.ambiguous = real,
        }
    }

    /// The account that replaces placeholders in the file at `path`, if one is known.
    pub fn target_for(&self, path: &str) -> Option<TargetAccount> {
        if let Some((_, glob, account)) = self.path_targets.iter().find(|(m, ..)| m.is_match(path))
        {
            return Some(TargetAccount {
                account: account.clone(),
                origin: Origin::ConfigPath(glob.clone()),
            });
        }
        let (account, origin) = if let Some(a) = &self.flag {
            (a.clone(), Origin::Flag)
        } else if let Some(a) = &self.config_target {
            (a.clone(), Origin::Config)
        } else {
            let (a, at) = self.inferred.as_ref()?;
            (a.clone(), Origin::Inferred(at.clone()))
        };
        Some(TargetAccount { account, origin })
    }

    /// Why no target is known, phrased as what the user should do.
    pub fn missing_target_help(&self) -> String {
        let mut text =
            String::from("cannot tell which real AWS account should replace the placeholders: ");
        if self.ambiguous.is_empty() {
            text.push_str("the repository names no real account");
        } else {
            let list: Vec<String> = self
                .ambiguous
                .iter()
                .map(|(a, at)| format!("{a} (at {at})"))
                .collect();
            text.push_str(&format!(
                "the repository names several real accounts: {}",
                list.join(", ")
            ));
        }
        text.push_str("; pass --account 123412341234, or set accounts.target in manifix.yaml");
        text
    }
}

/// Accounts named in Terraform text: in ARNs and ECR hosts, and in account-ID settings.
pub fn accounts_in_terraform(text: &str) -> Vec<(String, usize)> {
    static SETTING: OnceLock<Regex> = OnceLock::new();
    let setting = SETTING.get_or_init(|| {
        Regex::new(r#"(?m)\b(?:account_id|account_ids|allowed_account_ids|aws_account_id|owner_id|account)\s*=\s*\[?\s*"(\d{12})""#)
            .expect("static regex")
    });
    let mut out: Vec<(String, usize)> = find_accounts(text)
        .into_iter()
        .map(|r| (r.account.to_string(), r.range.start))
        .collect();
    for caps in setting.captures_iter(text) {
        if let Some(m) = caps.get(1) {
            out.push((m.as_str().to_string(), m.start()));
        }
    }
    out.sort_by_key(|(_, at)| *at);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn infers_only_when_exactly_one_real_account() {
        let mut r = AccountResolver::new(&Config::default(), None);
        let mut census = AccountCensus::default();
        census.record("123456789012", || "a.yaml:1".into());
        census.record("602401143452", || "b.yaml:2".into());
        census.record("465002806239", || "c.yaml:3".into());
        r.infer_from(&census);
        let t = r.target_for("x.yaml").expect("inferred");
        assert_eq!(t.account, "465002806239");
        assert_eq!(t.origin, Origin::Inferred("c.yaml:3".into()));

        census.record("210987654321", || "d.yaml:4".into());
        let mut r = AccountResolver::new(&Config::default(), None);
        r.infer_from(&census);
        assert!(r.target_for("x.yaml").is_none());
        assert!(r
            .missing_target_help()
            .contains("210987654321 (at d.yaml:4)"));
    }

    #[test]
    fn flag_beats_config_and_paths_beat_flag() {
        let config = Config::parse(
            "accounts:\n  target: \"111111111111\"\n  paths:\n    - path: \"staging/**\"\n      target: \"222222222222\"\n",
            "m",
        )
        .expect("valid");
        let r = AccountResolver::new(&config, Some("333333333333"));
        assert_eq!(
            r.target_for("prod/a.yaml").map(|t| t.account),
            Some("333333333333".into())
        );
        assert_eq!(
            r.target_for("staging/a.yaml").map(|t| t.account),
            Some("222222222222".into())
        );
    }

    #[test]
    fn reads_terraform_accounts() {
        let found = accounts_in_terraform(
            "provider \"aws\" {\n  allowed_account_ids = [\"465002806239\"]\n}\nrole = \"arn:aws:iam::111122223333:role/x\"\n",
        );
        let ids: Vec<_> = found.iter().map(|(a, _)| a.as_str()).collect();
        assert_eq!(ids, ["465002806239", "111122223333"]);
    }
}
