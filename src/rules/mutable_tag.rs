//! `mutable-tag`: an image tag that moves (`latest`, `main-latest`, a branch name, no tag).

use super::{FileInput, Rule, RuleMeta};
use crate::finding::{Applicability, Finding, Fix, Severity};
use crate::locate::images::{TagPlace, TagUse};
use crate::locate::tags::TagKind;
use crate::resolve::pins::PinOutcome;
use crate::resolve::Resolved;

pub struct MutableTag;

static META: RuleMeta = RuleMeta {
    id: "mutable-tag",
    severity: Severity::Warning,
    summary: "Mutable image tag (latest, <branch>-latest, a branch name, or none): pin it to the commit's immutable tag",
    fixable: true,
    explanation: "\
What it finds
  Image tags that move: no tag at all (the runtime pulls `latest`), `latest`, `<branch>-latest`
  such as `main-latest`, a bare branch name (main, master, develop, dev, stable, edge, nightly),
  and any pattern listed in tags.mutable of manifix.yaml. It looks wherever an image is named:
  containers, initContainers and ephemeralContainers of every workload kind (CronJob job
  templates included), Argo Workflow templates (container, script, initContainers, sidecars),
  kustomize images[].newTag and Helm-style image.tag. An image that a kustomize base leaves for
  overlays to set is judged as each overlay renders it: when every overlay sets the tag in its
  images: entry, that entry is what is judged, not the base. Tags that carry a 7-40 character
  commit id, and digests, are immutable. Semantic-version tags (v1.2.3) are immutable only by
  convention; with --strict they are reported as info.

Why it matters
  A moving tag means the same manifest runs different code over time: environments drift apart,
  a node that restarts pulls something newer than its neighbours, and a rollback to yesterday's
  commit of the GitOps repository does not bring yesterday's image back.

Fix
  The tag is pinned to the immutable tag CI pushed for the commit the branch points to:
  main-latest -> main-a0f13477eca7bfd3c908afdfff2fa18d1b6be5c0. The branch comes from the tag
  (main-latest -> main), else from the source's branch, else the repository's default branch.
  Sources map images to git repositories, in manifix.yaml:
    sources:
      - image: \"*/ml-fashion-recommender/*\"
        repo: ../ml-fashion-recommender      # a local path or a URL (file://, https, ssh)
        branch: main                          # optional
        tag: \"{branch}-{sha}\"                 # optional: {branch} {sha} {sha7}..{sha40} {date}
  or on the command line with --source 'GLOB=PATH_OR_URL'. Without a configured template, the
  spelling is read off commit-pinned tags already in the repository for the same registry and
  repository prefix, else {branch}-{sha}. The finding and the diff name the commit (sha, subject,
  date). An image no source covers stays reported as unresolved, with the config line that would
  resolve it. Only the tag's characters change (for kustomize, the newTag value); a pinned tag is
  never pinned again.",
};

impl Rule for MutableTag {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, file: &FileInput, resolved: &Resolved) -> Vec<Finding> {
        file.uses
            .iter()
            .filter_map(|u| finding(file, resolved, u))
            .collect()
    }
}

fn finding(file: &FileInput, resolved: &Resolved, use_: &TagUse) -> Option<Finding> {
    let severity = match use_.kind {
        TagKind::Mutable | TagKind::Missing => META.severity,
        TagKind::Semver if resolved.strict => Severity::Info,
        _ => return None,
    };
    let site = file.located.sites.get(use_.site)?;
    let range = file
        .source_range(site, use_.tag_range.clone())
        .unwrap_or(site.target.scalar.span.start..site.target.scalar.span.start);
    let renders = if use_.renders.is_empty() {
        String::new()
    } else {
        format!(" (renders in {})", use_.renders.join(", "))
    };
    let mut message = match (&use_.kind, &use_.tag) {
        (TagKind::Semver, Some(tag)) => format!(
            "semver tag `{tag}` on image `{}`{renders} is immutable only by convention: a registry may let it be pushed again",
            use_.image
        ),
        (_, Some(tag)) => format!(
            "mutable tag `{tag}` on image `{}`{renders}: it moves with every push, so environments drift and rollbacks do not bring the old image back",
            use_.image
        ),
        (_, None) => format!(
            "image `{}` has no tag{renders}: the runtime pulls `latest`, which moves with every push",
            use_.image
        ),
    };
    let mut fix = None;
    if use_.kind != TagKind::Semver {
        match resolved.pins.outcome(use_) {
            Some(PinOutcome::Pinned(pin)) => {
                let commit = describe_commit(pin);
                message.push_str(&format!(
                    "; pin to `{}`: {commit} on {} of {}",
                    pin.tag, pin.head.branch, pin.repo
                ));
                if let Some(note) = &pin.template_note {
                    message.push_str(&format!(" ({note})"));
                }
                if !pin.skipped.is_empty() {
                    message.push_str(&format!(
                        "; passed over {} newer {} whose image is not in ECR: {}",
                        pin.skipped.len(),
                        if pin.skipped.len() == 1 {
                            "commit"
                        } else {
                            "commits"
                        },
                        pin.skipped.join("; ")
                    ));
                }
                let replacement = match (&use_.place, &use_.tag) {
                    (TagPlace::InReference, None) => format!(":{}", pin.tag),
                    _ => pin.tag.clone(),
                };
                fix = site
                    .edit(use_.tag_range.clone(), &replacement)
                    .map(|edit| Fix {
                        title: format!(
                            "pin {} to {}",
                            use_.tag.as_deref().unwrap_or("the missing tag"),
                            pin.tag
                        ),
                        applicability: Applicability::Safe,
                        replacement: pin.tag.clone(),
                        detail: Some(format!(
                            "{} -> {}: {commit}{}",
                            use_.tag.as_deref().unwrap_or("(no tag)"),
                            pin.tag,
                            if pin.skipped.is_empty() {
                                String::new()
                            } else {
                                format!(" (passed over {})", pin.skipped.join("; "))
                            }
                        )),
                        edits: vec![edit],
                        append_images: Vec::new(),
                    });
            }
            Some(PinOutcome::NoSource) => {
                message.push_str(&format!(
                    "; unresolved: no source maps this image — {}",
                    crate::resolve::pins::suggestion(&use_.image)
                ));
            }
            Some(PinOutcome::Failed { error, .. }) => {
                message.push_str(&format!("; unresolved: {error}"));
            }
            None => {}
        }
    }
    Some(Finding {
        rule: META.id,
        severity,
        path: file.path.to_string(),
        range,
        line: 0,
        column: 0,
        message,
        fix: fix.map(Box::new),
    })
}

/// `commit a0f1347 "Train on new data" (2025-11-07)`
fn describe_commit(pin: &crate::resolve::pins::Pin) -> String {
    let c = &pin.head.commit;
    let mut text = format!("commit {}", &c.sha[..c.sha.len().min(7)]);
    if let Some(subject) = &c.subject {
        text.push_str(&format!(" \"{subject}\""));
    }
    if let Some(date) = &c.author_date {
        text.push_str(&format!(" ({date})"));
    }
    text
}
