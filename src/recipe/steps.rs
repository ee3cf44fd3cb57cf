//! The generic rewrite steps of a recipe, applied to every string value of a file in scope. The
//! steps run in order on each value, so a later step sees what an earlier one wrote; the value's
//! change becomes one edit, trimmed to the characters that differ.

use super::{Recipe, Step};
use crate::finding::{Applicability, Finding, Fix, Severity};
use crate::locate::aws::{find_accounts, AccountSite};
use crate::rules::FileInput;

/// What `manifix explain STEP` prints for a recipe step (its findings carry the step's name).
pub fn explain(name: &str) -> Option<&'static str> {
    Some(match name {
        "replace-account" => {
            "\
replace-account {from, to} (recipe step)

Every ECR registry host (<account>.dkr.ecr.<region>.amazonaws.com) and ARN naming account `from`
names `to` instead: the twelve digits change and nothing else. A 12-digit number anywhere else is
never touched. Used by the built-in recipe migrate-account."
        }
        "move-registry" => {
            "\
move-registry {from, to} (recipe step)

A value that starts with `from` (a registry host, optionally with a repository prefix) followed
by `/`, `:`, `@` or its end starts with `to` instead: `host/team/app:v1` moves, `host/team-b/app`
does not. Every string value in scope is considered, kustomize images[].name included, which is
right when the base that names the image is in the same repository."
        }
        "set-region" => {
            "\
set-region {from, to} (recipe step)

ECR registry hosts in region `from`, and ARNs whose region field is `from`, get region `to`.
IAM ARNs have no region and stay as they are. Used by the built-in recipe migrate-ecr-region."
        }
        "pin-tags" => {
            "\
pin-tags {template} (recipe step)

Runs the mutable-tag rule's fix: each mutable tag is pinned to the tag CI built from the commit
its branch points to, written with `template` ({branch}, {sha}, {sha7}..{sha40}, {date}) unless
the image's source in manifix.yaml has its own. `manifix explain mutable-tag` tells more."
        }
        _ => return None,
    })
}

/// The findings (with fixes) that the recipe's rewrite steps make in one file.
pub fn step_findings(recipe: &Recipe, file: &FileInput) -> Vec<Finding> {
    let steps: Vec<&Step> = recipe.rewrite_steps().collect();
    if steps.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    for site in &file.located.sites {
        let mut value = site.value.clone();
        let mut done: Vec<String> = Vec::new();
        let mut first: Option<&'static str> = None;
        for step in &steps {
            if let Some((new, note)) = rewrite(step, &value) {
                value = new;
                done.push(note);
                first.get_or_insert(step.name());
            }
        }
        let Some(rule) = first else { continue };
        let (range, replacement) = changed_span(&site.value, &value);
        let at = file
            .source_range(site, range.clone())
            .unwrap_or(site.target.scalar.span.start..site.target.scalar.span.start);
        let mut message = format!(
            "{} at `{}` (recipe {})",
            done.join("; "),
            site.path,
            recipe.name
        );
        let fix = site.edit(range, &replacement).map(|edit| Fix {
            title: done.join("; "),
            applicability: Applicability::Safe,
            replacement: value.clone(),
            detail: None,
            edits: vec![edit],
            append_images: Vec::new(),
        });
        if fix.is_none() {
            message.push_str(" (this value cannot be edited in place safely; change it by hand)");
        }
        let mut finding = Finding::new(rule, Severity::Warning, file.path, at, message);
        finding.fix = fix.map(Box::new);
        out.push(finding);
    }
    out
}

/// One step applied to one value: the new value and what changed, or `None` when the step
/// does not touch it.
fn rewrite(step: &Step, value: &str) -> Option<(String, String)> {
    match step {
        Step::ReplaceAccount { from, to } => {
            let ranges: Vec<_> = find_accounts(value)
                .into_iter()
                .filter(|f| f.account == from)
                .map(|f| f.range)
                .collect();
            (!ranges.is_empty()).then(|| {
                (
                    replace_ranges(value, &ranges, to),
                    format!("account {from} → {to}"),
                )
            })
        }
        Step::SetRegion { from, to } => {
            let ranges: Vec<_> = find_accounts(value)
                .into_iter()
                .filter_map(|f| region_range(value, &f.range, &f.site))
                .filter(|r| &value[r.clone()] == from)
                .collect();
            (!ranges.is_empty()).then(|| {
                (
                    replace_ranges(value, &ranges, to),
                    format!("region {from} → {to}"),
                )
            })
        }
        Step::MoveRegistry { from, to } => {
            let rest = value.strip_prefix(from.as_str())?;
            // Only at a boundary: `host/team` moves `host/team/app` and `host/team:tag`, never
            // `host/team-other/app`.
            if !(rest.is_empty() || rest.starts_with(['/', ':', '@'])) {
                return None;
            }
            Some((format!("{to}{rest}"), format!("registry {from} → {to}")))
        }
        Step::PinTags { .. } => None,
    }
}

/// Where the region stands in an ECR host or an ARN whose account digits are at `account`.
fn region_range(
    value: &str,
    account: &std::ops::Range<usize>,
    site: &AccountSite,
) -> Option<std::ops::Range<usize>> {
    match site {
        AccountSite::EcrHost { region, .. } => {
            let start = value[account.end..].find(region)? + account.end;
            Some(start..start + region.len())
        }
        // arn:partition:service:REGION:ACCOUNT:resource; global services leave it empty.
        AccountSite::Arn { .. } => {
            let end = account.start.checked_sub(1)?;
            let start = value[..end].rfind(':')? + 1;
            (start < end).then_some(start..end)
        }
    }
}

fn replace_ranges(value: &str, ranges: &[std::ops::Range<usize>], with: &str) -> String {
    let mut out = String::new();
    let mut last = 0;
    for r in ranges {
        out.push_str(&value[last..r.start]);
        out.push_str(with);
        last = r.end;
    }
    out.push_str(&value[last..]);
    out
}

/// The smallest range of `old` whose replacement turns it into `new`, and that replacement:
/// a short edit leaves room for other fixes (a pinned tag) in the same value.
fn changed_span(old: &str, new: &str) -> (std::ops::Range<usize>, String) {
    let prefix = old
        .char_indices()
        .zip(new.chars())
        .find(|((_, a), b)| a != b)
        .map_or(old.len().min(new.len()), |((i, _), _)| i);
    let max_suffix = (old.len() - prefix).min(new.len() - prefix);
    let suffix = old[prefix..]
        .chars()
        .rev()
        .zip(new[prefix..].chars().rev())
        .take_while(|(a, b)| a == b)
        .map(|(a, _)| a.len_utf8())
        .scan(0, |sum, n| {
            *sum += n;
            Some(*sum)
        })
        .take_while(|sum| *sum <= max_suffix)
        .last()
        .unwrap_or(0);
    (
        prefix..old.len() - suffix,
        new[prefix..new.len() - suffix].to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(text: &str) -> Step {
        let recipe = Recipe::parse(
            &format!("name: t\ndescription: d\nsteps:\n  - {text}\n"),
            "t",
            "t.yaml",
            &[],
        )
        .unwrap();
        recipe.steps[0].clone()
    }

    #[test]
    fn each_step_changes_only_what_it_names() {
        let host = "111111111111.dkr.ecr.us-east-1.amazonaws.com/team/app:main-latest";
        let s = step("replace-account: {from: '111111111111', to: '222222222222'}");
        assert_eq!(
            rewrite(&s, host).unwrap().0,
            host.replace("111111111111", "222222222222")
        );
        assert!(
            rewrite(&s, "111111111111").is_none(),
            "a bare number is not an account"
        );
        let s = step("set-region: {from: us-east-1, to: eu-west-1}");
        assert_eq!(
            rewrite(&s, host).unwrap().0,
            host.replace("us-east-1", "eu-west-1")
        );
        assert_eq!(
            rewrite(&s, "arn:aws:sqs:us-east-1:111111111111:queue-us-east-1")
                .unwrap()
                .0,
            "arn:aws:sqs:eu-west-1:111111111111:queue-us-east-1"
        );
        assert!(rewrite(&s, "arn:aws:iam::111111111111:role/us-east-1").is_none());
        let s = step("move-registry: {from: '111111111111.dkr.ecr.us-east-1.amazonaws.com/team', to: 'ghcr.io/acme'}");
        assert_eq!(rewrite(&s, host).unwrap().0, "ghcr.io/acme/app:main-latest");
        assert!(rewrite(
            &s,
            "111111111111.dkr.ecr.us-east-1.amazonaws.com/team-b/app"
        )
        .is_none());
    }

    #[test]
    fn changed_span_is_minimal() {
        assert_eq!(changed_span("a-111-b", "a-222-b"), (2..5, "222".into()));
        assert_eq!(changed_span("aaa", "aaaa"), (3..3, "a".into()));
        assert_eq!(changed_span("héllo", "hallo"), (1..3, "a".into()));
    }
}
