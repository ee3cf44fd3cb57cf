//! `manifix.yaml`: the repository's own settings, validated with line and column in errors.

use globset::{Glob, GlobMatcher};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

pub const CONFIG_FILE: &str = "manifix.yaml";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub accounts: AccountsConfig,
    /// Per-rule level: `allow` (off), `warn`, or `deny` (error).
    #[serde(default)]
    pub rules: BTreeMap<String, Level>,
    /// Which git repository builds which images, for pinning mutable tags.
    #[serde(default)]
    pub sources: Vec<SourceConfig>,
    #[serde(default)]
    pub tags: TagsConfig,
    #[serde(default)]
    pub cluster: ClusterConfig,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    /// The AWS region the cluster runs in (for `ecr-region`).
    pub region: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// Glob over the image name without tag (`*/ml-fashion-recommender/*`).
    pub image: String,
    /// Local path (relative to the config file) or URL of the git repository.
    pub repo: String,
    pub branch: Option<String>,
    /// Tag template: `{branch}`, `{sha}`, `{sha7}`..`{sha40}`, `{date}`.
    pub tag: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TagsConfig {
    /// Extra globs of tags that move (on top of latest, <branch>-latest and branch names).
    #[serde(default)]
    pub mutable: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountsConfig {
    /// The real account that replaces placeholders.
    pub target: Option<Account>,
    /// More placeholder accounts, on top of the built-in ones.
    #[serde(default)]
    pub placeholders: Vec<Account>,
    /// Accounts that are never reported or rewritten (beyond the built-in AWS-owned ones).
    #[serde(default)]
    pub ignore: Vec<Account>,
    /// Per-path targets: the first entry whose glob matches a file's path wins.
    #[serde(default)]
    pub paths: Vec<PathAccount>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathAccount {
    pub path: String,
    pub target: Account,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Allow,
    Warn,
    Deny,
}

/// A 12-digit AWS account ID, written quoted or as a plain number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account(pub String);

impl<'de> Deserialize<'de> for Account {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            Number(u64),
        }
        let text = match Raw::deserialize(d)? {
            Raw::Text(t) => t,
            // A plain 012345678901 would lose its leading zero as a number; pad it back.
            Raw::Number(n) => format!("{n:012}"),
        };
        if is_account_id(&text) {
            Ok(Account(text))
        } else {
            Err(serde::de::Error::custom(format!(
                "{text:?} is not an AWS account ID (12 digits)"
            )))
        }
    }
}

/// An absolute path (`/x`, `\\x`, `C:\\x`, `C:/x`) or one with a `..` component.
fn escapes_root(path: &str) -> bool {
    let drive = path.as_bytes().get(1) == Some(&b':') && path.as_bytes()[0].is_ascii_alphabetic();
    path.starts_with(['/', '\\']) || drive || path.split(['/', '\\']).any(|segment| segment == "..")
}

pub fn is_account_id(text: &str) -> bool {
    text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit())
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
    /// Too large, not UTF-8, or unreadable, as `crate::fsio::read_named` says.
    #[error("{0}")]
    Unread(String),
}

/// No `manifix.yaml` is larger: a bigger one (a repository's own may be hostile) is refused
/// unread.
pub const MAX_CONFIG_BYTES: u64 = 1 << 20;

impl Config {
    /// Reads `manifix.yaml` in `root` if it is there; a missing file means defaults.
    pub fn load_from_root(root: &Path) -> Result<Config, ConfigError> {
        let path = root.join(CONFIG_FILE);
        if !path.is_file() {
            return Ok(Config::default());
        }
        Self::load(&path)
    }

    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let shown = path.display().to_string();
        let text = crate::fsio::read_named_text(path, MAX_CONFIG_BYTES, "config")
            .map_err(ConfigError::Unread)?;
        Self::parse(&text, &shown)
    }

    pub fn parse(text: &str, shown: &str) -> Result<Config, ConfigError> {
        if text.trim().is_empty() {
            return Ok(Config::default());
        }
        let config: Config = serde_saphyr::from_str(text).map_err(|e| ConfigError::Invalid {
            path: shown.to_string(),
            message: e.to_string(),
        })?;
        for entry in &config.accounts.paths {
            Glob::new(&entry.path).map_err(|e| ConfigError::Invalid {
                path: shown.to_string(),
                message: format!("accounts.paths: bad glob {:?}: {e}", entry.path),
            })?;
            // Globs match paths relative to the root, which never leave it: an entry that
            // names a place outside could only be a mistake that silently matches nothing.
            if escapes_root(&entry.path) {
                // The typed config keeps no positions; the glob's text finds its line.
                let at = text
                    .find(entry.path.as_str())
                    .map(|i| format!("line {}: ", text[..i].matches('\n').count() + 1))
                    .unwrap_or_default();
                return Err(ConfigError::Invalid {
                    path: shown.to_string(),
                    message: format!(
                        "{at}accounts.paths: {:?} leaves the repository (absolute or `..`); paths are relative to the root, e.g. \"overlays/staging/**\"",
                        entry.path
                    ),
                });
            }
        }
        Ok(config)
    }

    /// The configured target account for a file, per-path entries first.
    pub fn target_for(&self, rel_path: &str) -> Option<&str> {
        for entry in &self.accounts.paths {
            let matcher: Option<GlobMatcher> =
                Glob::new(&entry.path).ok().map(|g| g.compile_matcher());
            if matcher.is_some_and(|m| m.is_match(rel_path)) {
                return Some(&entry.target.0);
            }
        }
        self.accounts.target.as_ref().map(|a| a.0.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_targets_and_per_path_overrides() {
        let c = Config::parse(
            "accounts:\n  target: 465002806239\n  paths:\n    - path: \"apps/*/overlays/staging/**\"\n      target: \"210987654321\"\nrules:\n  placeholder-account: warn\n",
            "manifix.yaml",
        )
        .expect("valid");
        assert_eq!(c.target_for("apps/x/base/a.yaml"), Some("465002806239"));
        assert_eq!(
            c.target_for("apps/x/overlays/staging/kustomization.yaml"),
            Some("210987654321")
        );
        assert_eq!(c.rules.get("placeholder-account"), Some(&Level::Warn));
    }

    #[test]
    fn rejects_bad_accounts_and_unknown_fields_with_position() {
        let err = Config::parse("accounts:\n  target: \"12345\"\n", "m.yaml").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("not an AWS account ID"), "{text}");
        assert!(text.contains("line 2") || text.contains("2:"), "{text}");
        let err = Config::parse("acounts: {}\n", "m.yaml").unwrap_err();
        assert!(err.to_string().contains("acounts"), "{err}");
    }
}
