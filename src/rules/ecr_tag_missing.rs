//! `ecr-tag-missing`: an image's tag (after pinning) is not in its ECR repository.

use super::registry_uses::checked_uses;
use super::{FileInput, Rule, RuleMeta};
use crate::finding::{Finding, Severity};
use crate::resolve::pins::PinOutcome;
use crate::resolve::Resolved;

pub struct EcrTagMissing;

static META: RuleMeta = RuleMeta {
    id: "ecr-tag-missing",
    severity: Severity::Error,
    summary: "An image's tag (as pinned) is not in its ECR repository (with --registry)",
    fixable: false,
    explanation: "\
What it finds
  With --registry, every tag a private ECR image renders with — after manifix's own fixes, so
  a mutable tag is checked as the tag it would be pinned to — is looked up in its repository
  (DescribeImages with the image ids, one call per repository). Tags that are not there are
  reported.

Why it matters
  A tag that was never pushed sends pods to ImagePullBackOff. For pins the usual reason is that
  CI has not built the newest commit yet, or failed to: pinning to the branch head then points
  at an image that does not exist.

Example
  newTag: main-3f2c1a9... where CI has not pushed main-3f2c1a9... yet.

Fix safety
  No fix of its own. `manifix fix --require-image` pins instead to the newest commit of the
  branch whose image ECR holds, walking first-parent history back from the head, and says which
  commits it passed over (`main~1: CI has not pushed main-... yet`).",
};

impl Rule for EcrTagMissing {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, file: &FileInput, resolved: &Resolved) -> Vec<Finding> {
        let mut out = Vec::new();
        for (use_, site, repo, tag, facts) in checked_uses(file, resolved) {
            if !facts.missing_tags.contains(&(repo.clone(), tag.clone())) {
                continue;
            }
            let range = file
                .source_range(site, use_.tag_range.clone())
                .unwrap_or(site.target.scalar.span.start..site.target.scalar.span.start);
            let pinned = match resolved.pins.outcome(use_) {
                Some(PinOutcome::Pinned(pin)) => format!(
                    " (the pin of `{}` to commit {} of {}); `fix --require-image` pins to the newest commit whose image is there",
                    use_.tag.as_deref().unwrap_or("no tag"),
                    &pin.head.commit.sha[..pin.head.commit.sha.len().min(12)],
                    pin.head.branch
                ),
                _ => String::new(),
            };
            out.push(Finding::new(
                META.id,
                META.severity,
                file.path,
                range,
                format!(
                    "tag `{tag}` is not in ECR repository `{repo}`{pinned}: pods would fail with ImagePullBackOff until CI pushes it"
                ),
            ));
        }
        out
    }
}
