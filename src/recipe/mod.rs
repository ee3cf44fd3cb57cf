//! Recipes: a named migration in YAML (`transforms/*.yaml`) that says which rules run with which
//! parameters, which generic rewrite steps apply, and to which paths. The built-ins are compiled
//! into the binary; a user's own file is read the same way.

mod read;
pub mod steps;
mod validate;

use globset::{Glob, GlobSet, GlobSetBuilder};
use std::collections::BTreeMap;
use std::path::Path;

pub use read::RecipeError;

/// The built-in recipes, as shipped in `transforms/`.
pub const BUILTINS: &[(&str, &str)] = &[
    (
        "fix-placeholder-accounts",
        include_str!("../../transforms/fix-placeholder-accounts.yaml"),
    ),
    (
        "pin-mutable-tags",
        include_str!("../../transforms/pin-mutable-tags.yaml"),
    ),
    (
        "migrate-account",
        include_str!("../../transforms/migrate-account.yaml"),
    ),
    (
        "migrate-ecr-region",
        include_str!("../../transforms/migrate-ecr-region.yaml"),
    ),
];

/// A parameter the recipe declares; `${name}` in its values is replaced by what `--set` gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    pub name: String,
    pub description: String,
    pub required: bool,
    pub default: Option<String>,
}

/// A rule the recipe runs, with its parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleUse {
    pub id: &'static str,
    /// `placeholder-account`: the real account that replaces placeholders.
    pub account: Option<String>,
    /// `mutable-tag`: the tag template pins are written with.
    pub template: Option<String>,
}

/// A generic rewrite, applied in order to every string value of the files in scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Every ECR registry host and ARN naming account `from` names `to` instead.
    ReplaceAccount { from: String, to: String },
    /// Image references under `from` (a registry host, optionally with a repository prefix)
    /// move under `to`.
    MoveRegistry { from: String, to: String },
    /// ECR registry hosts and regional ARNs in region `from` move to region `to`.
    SetRegion { from: String, to: String },
    /// Mutable tags are pinned from git (the `mutable-tag` rule's fix), with this template.
    PinTags { template: Option<String> },
}

impl Step {
    pub fn name(&self) -> &'static str {
        match self {
            Step::ReplaceAccount { .. } => "replace-account",
            Step::MoveRegistry { .. } => "move-registry",
            Step::SetRegion { .. } => "set-region",
            Step::PinTags { .. } => "pin-tags",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Recipe {
    pub name: String,
    pub description: String,
    /// `built-in` or the file it was read from.
    pub origin: String,
    /// The recipe's text as written, before parameters are filled in.
    pub text: String,
    pub params: Vec<Param>,
    /// Parameter values after `--set` and defaults.
    pub values: BTreeMap<String, String>,
    pub rules: Vec<RuleUse>,
    pub steps: Vec<Step>,
    pub include: Vec<String>,
    pub exclude: Vec<String>,
    include_set: Option<GlobSet>,
    exclude_set: Option<GlobSet>,
}

impl Recipe {
    /// A built-in by name, or a recipe file by path, with `--set NAME=VALUE` parameters.
    pub fn load(spec: &str, sets: &[String]) -> Result<Recipe, RecipeError> {
        /// No recipe is larger; `--recipe /dev/urandom` is refused, not read to the end.
        const MAX_RECIPE_BYTES: u64 = 1 << 20;
        let looks_like_path = spec.contains('/')
            || spec.contains(std::path::MAIN_SEPARATOR)
            || spec.ends_with(".yaml")
            || spec.ends_with(".yml");
        if !looks_like_path {
            if let Some((_, text)) = BUILTINS.iter().find(|(name, _)| *name == spec) {
                return Self::parse(text, "built-in", &format!("{spec} (built-in)"), sets);
            }
            return Err(RecipeError::plain(format!(
                "no built-in recipe named {spec:?} (built-ins: {}); a recipe file is given by its path, e.g. transforms/{spec}.yaml",
                BUILTINS
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        let path = Path::new(spec);
        let text = crate::fsio::read_named_text(path, MAX_RECIPE_BYTES, "recipe")
            .map_err(RecipeError::plain)?;
        Self::parse(&text, spec, spec, sets)
    }

    /// Reads a recipe's text; `shown` names it in errors.
    pub fn parse(
        text: &str,
        origin: &str,
        shown: &str,
        sets: &[String],
    ) -> Result<Recipe, RecipeError> {
        let given = parse_sets(sets)?;
        let mut recipe = read::read(text, shown, &given, read::Depth::Full)?;
        recipe.origin = origin.to_string();
        recipe.text = text.to_string();
        recipe.include_set = glob_set(&recipe.include);
        recipe.exclude_set = glob_set(&recipe.exclude);
        Ok(recipe)
    }

    /// Name, description and parameters only, for listing: required parameters are not asked.
    pub fn outline(text: &str, shown: &str) -> Result<Recipe, RecipeError> {
        read::read(text, shown, &BTreeMap::new(), read::Depth::Outline)
    }

    /// Whether the recipe may report and change a file at this root-relative path.
    pub fn covers(&self, rel_path: &str) -> bool {
        let included = self
            .include_set
            .as_ref()
            .is_none_or(|set| set.is_match(rel_path));
        let excluded = self
            .exclude_set
            .as_ref()
            .is_some_and(|set| set.is_match(rel_path));
        included && !excluded
    }

    /// Whether the recipe runs this rule (pin-tags runs `mutable-tag`).
    pub fn runs_rule(&self, id: &str) -> bool {
        self.rules.iter().any(|r| r.id == id)
            || (id == "mutable-tag" && self.steps.iter().any(|s| matches!(s, Step::PinTags { .. })))
    }

    /// The account the recipe gives `placeholder-account`, if any.
    pub fn account(&self) -> Option<&str> {
        self.rules.iter().find_map(|r| r.account.as_deref())
    }

    /// The tag template for pins, from `pin-tags` or the `mutable-tag` rule's parameters.
    pub fn tag_template(&self) -> Option<&str> {
        self.steps
            .iter()
            .find_map(|s| match s {
                Step::PinTags { template } => template.as_deref(),
                _ => None,
            })
            .or_else(|| self.rules.iter().find_map(|r| r.template.as_deref()))
    }

    /// The string steps (everything but pin-tags), in order.
    pub fn rewrite_steps(&self) -> impl Iterator<Item = &Step> {
        self.steps
            .iter()
            .filter(|s| !matches!(s, Step::PinTags { .. }))
    }

    /// A fingerprint of what the recipe does with these parameters: a resumed bulk run must
    /// be the same migration as the one that wrote its report.
    pub fn fingerprint(&self) -> String {
        let mut text = self.text.clone();
        for (k, v) in &self.values {
            text.push_str(&format!("\n{k}={v}"));
        }
        format!("{:016x}", crate::text::stable_hash(&text))
    }
}

fn glob_set(globs: &[String]) -> Option<GlobSet> {
    if globs.is_empty() {
        return None;
    }
    let mut builder = GlobSetBuilder::new();
    for g in globs {
        // Validated with positions by the reader; a failure here cannot happen.
        if let Ok(glob) = Glob::new(g) {
            builder.add(glob);
        }
    }
    builder.build().ok()
}

/// `--set NAME=VALUE` flags as a map; a flag without `=` is an error.
fn parse_sets(sets: &[String]) -> Result<BTreeMap<String, String>, RecipeError> {
    let mut out = BTreeMap::new();
    for set in sets {
        let (name, value) = set.split_once('=').ok_or_else(|| {
            RecipeError::plain(format!(
                "--set {set:?}: expected NAME=VALUE, e.g. to=465002806239"
            ))
        })?;
        out.insert(name.trim().to_string(), value.to_string());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_reads_and_is_named_after_its_file() {
        for (name, text) in BUILTINS {
            let sets: Vec<String> = match *name {
                "migrate-account" => vec!["from=111111111111".into(), "to=222222222222".into()],
                "migrate-ecr-region" => vec!["from=us-east-1".into(), "to=eu-west-1".into()],
                _ => vec![],
            };
            let recipe = Recipe::parse(text, "built-in", name, &sets)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(&recipe.name, name);
            assert!(!recipe.description.is_empty());
            assert!(!recipe.rules.is_empty() || !recipe.steps.is_empty());
        }
    }

    #[test]
    fn optional_parameter_left_unset_leaves_the_field_unset() {
        let recipe = Recipe::load("fix-placeholder-accounts", &[]).expect("built-in");
        assert_eq!(recipe.account(), None);
        assert!(recipe.runs_rule("placeholder-account"));
        assert!(!recipe.runs_rule("mutable-tag"));
        let recipe =
            Recipe::load("fix-placeholder-accounts", &["account=465002806239".into()]).unwrap();
        assert_eq!(recipe.account(), Some("465002806239"));
    }

    #[test]
    fn fingerprint_follows_parameters() {
        let a = Recipe::load(
            "migrate-account",
            &["from=111111111111".into(), "to=222222222222".into()],
        )
        .unwrap();
        let b = Recipe::load(
            "migrate-account",
            &["from=111111111111".into(), "to=333333333333".into()],
        )
        .unwrap();
        assert_ne!(a.fingerprint(), b.fingerprint());
        assert_eq!(a.fingerprint(), a.clone().fingerprint());
    }

    #[test]
    fn paths_scope_the_recipe() {
        let text = "name: scoped\ndescription: d\nrules:\n  placeholder-account: {}\npaths:\n  include: ['apps/**']\n  exclude: ['apps/legacy/**']\n";
        let r = Recipe::parse(text, "t", "t.yaml", &[]).unwrap();
        assert!(r.covers("apps/web/base/deploy.yaml"));
        assert!(!r.covers("apps/legacy/deploy.yaml"));
        assert!(!r.covers("infra/x.yaml"));
    }
}
