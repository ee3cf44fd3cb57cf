//! `--format markdown`: an audit report in the shape of the hand-written audit manifix grew out
//! of — a summary, the findings grouped by area as a checklist with how to fix each, and a final
//! checklist of what is fine and what must be fixed. No dates or absolute paths: the same input
//! gives the same bytes, so the report can be committed or snapshot-tested.

use crate::engine::Run;
use crate::finding::{Applicability, Finding, Severity};
use std::fmt::Write;

struct Area {
    title: &'static str,
    rules: &'static [&'static str],
    about: &'static str,
}

const AREAS: &[Area] = &[
    Area {
        title: "AWS accounts",
        rules: &["placeholder-account", "account-mismatch"],
        about: "Placeholder account IDs left from templates, and real accounts that differ from \
                the target, in ECR registry hosts and ARNs (images, kustomize `images:`, IRSA \
                role annotations, inline patches).",
    },
    Area {
        title: "Image tags",
        rules: &["mutable-tag"],
        about: "Tags that move (`latest`, `main-latest`, branch names) let environments drift \
                and make rollbacks pull a different image; production should use the immutable \
                tag of a commit.",
    },
    Area {
        title: "Image overrides",
        rules: &["missing-image-override"],
        about: "Images a base leaves for its overlays to set: an overlay that points some of \
                them at a registry but not the others makes those pull from Docker Hub.",
    },
    Area {
        title: "Image pulls / IRSA",
        rules: &[
            "node-role-ecr",
            "ecr-region",
            "image-pull-secrets-ecr",
            "irsa-service-account",
        ],
        about: "Whether nodes can pull from ECR (the node role's policy, the registry's region, \
                `imagePullSecrets`), and whether workloads, ServiceAccounts and their IRSA roles \
                line up.",
    },
];

const OTHER: &str = "Other";

const IRSA_NOTE: &str = "> **Note on image pulls and IRSA.** On EKS the kubelet pulls images \
with the **node's** IAM role (through the ECR credential provider, which refreshes the token \
every 12 hours), so no `imagePullSecrets` are needed. The IRSA role on a ServiceAccount \
(`eks.amazonaws.com/role-arn`) only gives the application's own AWS SDK calls (S3, Secrets \
Manager, ...) their credentials: a wrong IRSA ARN breaks those calls, not image pulls.";

fn area_of(rule: &str) -> &'static str {
    AREAS
        .iter()
        .find(|a| a.rules.contains(&rule))
        .map_or(OTHER, |a| a.title)
}

fn plural(n: usize, one: &str, many: &str) -> String {
    super::text::plural(n, one, many)
}

/// Escapes what Markdown would read as markup outside code spans (`<path>` would vanish as an
/// HTML tag, `*/app/*` would turn italic); code spans are left as written, found as CommonMark
/// finds them (a run of backticks opens one only when a later run of the same length closes
/// it; any other backtick is escaped). Control characters are shown as escapes, so a message
/// stays one list item.
pub fn escape(text: &str) -> String {
    let text = crate::escape::control(text);
    let chars: Vec<char> = text.chars().collect();
    let run_at = |i: usize| chars[i..].iter().take_while(|&&c| c == '`').count();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '`' {
            let n = run_at(i);
            // The next run of exactly `n` backticks closes the span.
            let mut j = i + n;
            let mut close = None;
            while j < chars.len() {
                if chars[j] == '`' {
                    let m = run_at(j);
                    if m == n {
                        close = Some(j);
                        break;
                    }
                    j += m;
                } else {
                    j += 1;
                }
            }
            match close {
                Some(j) => {
                    out.extend(&chars[i..j + n]);
                    i = j + n;
                }
                None => {
                    for _ in 0..n {
                        out.push_str("\\`");
                    }
                    i += n;
                }
            }
            continue;
        }
        crate::escape::push_markup_escaped(&mut out, &chars, i);
        i += 1;
    }
    out
}

/// The command that applies a finding's fix: opt-in fixes name their flag.
fn fix_command(f: &Finding) -> &'static str {
    match f.fix.as_ref().map(|fix| fix.applicability) {
        Some(Applicability::Unsafe) if f.rule == "missing-image-override" => {
            "manifix fix --add-missing-overrides"
        }
        Some(Applicability::Unsafe) => "manifix fix --unsafe-fixes",
        _ => "manifix fix",
    }
}

fn how_to_fix(f: &Finding) -> String {
    match &f.fix {
        Some(fix) => {
            let command = fix_command(f);
            let mut line = format!("Fix (`{command}`): {}", escape(&fix.title));
            if let Some(detail) = &fix.detail {
                line.push_str(&format!(" ({})", escape(detail)));
            }
            line
        }
        None => {
            let fixable = crate::rules::find(f.rule).is_some_and(|r| r.meta().fixable);
            let why = if fixable {
                "fixable by `manifix fix` once it has what the message asks for"
            } else {
                "no automatic fix"
            };
            format!("How to fix: see `manifix explain {}` ({why})", f.rule)
        }
    }
}

fn finding_item(md: &mut String, f: &Finding) {
    // Info findings report what was checked; there is nothing to tick off.
    let mark = if f.severity == Severity::Info {
        "- ℹ️"
    } else {
        "- [ ]"
    };
    let _ = writeln!(
        md,
        "{mark} {} — **{}** `{}`: {}",
        crate::escape::md_code(&format!(
            "{}:{}",
            crate::escape::quote_path(&f.path),
            f.line
        )),
        f.severity.as_str(),
        f.rule,
        escape(&f.message)
    );
    if f.severity != Severity::Info {
        let _ = writeln!(md, "  - {}", how_to_fix(f));
    }
}

/// What an area's checklist line says of its findings, counted as they are written.
#[derive(Default)]
struct AreaCounts {
    errors: usize,
    warnings: usize,
    notes: usize,
    /// Findings with a fix, and the command that applies the first of them.
    fixable: usize,
    command: Option<&'static str>,
}

impl AreaCounts {
    fn add(&mut self, f: &Finding) {
        match f.severity {
            Severity::Error => self.errors += 1,
            Severity::Warning => self.warnings += 1,
            Severity::Info => self.notes += 1,
        }
        if f.fix.is_some() {
            self.fixable += 1;
            self.command.get_or_insert_with(|| fix_command(f));
        }
    }

    fn total(&self) -> usize {
        self.errors + self.warnings + self.notes
    }

    /// `4 errors, 1 warning` (only the non-zero counts); `nothing` when there are none.
    fn counts(&self) -> String {
        let parts: Vec<String> = [
            (self.errors, "error", "errors"),
            (self.warnings, "warning", "warnings"),
            (self.notes, "note", "notes"),
        ]
        .into_iter()
        .filter(|(count, _, _)| *count > 0)
        .map(|(count, one, many)| plural(count, one, many))
        .collect();
        if parts.is_empty() {
            "nothing".to_string()
        } else {
            parts.join(", ")
        }
    }

    /// The checklist line of an area with something to fix.
    fn to_fix_line(&self, title: &str) -> String {
        let command = self.command.unwrap_or("manifix fix");
        let how = if self.fixable == self.total() {
            format!("all fixable with `{command}`")
        } else if self.fixable > 0 {
            format!("{} fixable with `{command}`", self.fixable)
        } else {
            "no automatic fix in this run".to_string()
        };
        format!("- [ ] {title}: {} ({how})", self.counts())
    }
}

/// How much of the report is gathered before it is written out.
const WRITE_EVERY: usize = 1 << 16;

/// Writes out what `md` holds once it holds `WRITE_EVERY` bytes (all of it when `all`): a
/// large run's report is written as it is made, never held whole.
fn write_out(md: &mut String, out: &mut dyn std::io::Write, all: bool) -> std::io::Result<()> {
    if all || md.len() >= WRITE_EVERY {
        out.write_all(md.as_bytes())?;
        md.clear();
    }
    Ok(())
}

/// Writes the report, as it is made (what was written before a failed write stays written).
pub fn report(out: &mut dyn std::io::Write, run: &Run) -> std::io::Result<()> {
    let mut md = String::new();
    let tally = run.tally();
    let (errors, warnings, info, fixable) =
        (tally.errors, tally.warnings, tally.info, tally.fixable);

    md.push_str("# manifix audit: ECR images, AWS accounts and image tags\n\n");
    md.push_str("## Summary\n\n");
    md.push_str("| | |\n|---|---:|\n");
    for (label, value) in [
        ("errors", errors),
        ("warnings", warnings),
        ("info", info),
        ("fixable with `manifix fix`", fixable),
        ("files checked", run.files_checked),
        ("files skipped", run.skipped.len()),
        ("file errors", run.errors.len()),
    ] {
        let _ = writeln!(md, "| {label} | {value} |");
    }
    let to_fix = errors + warnings + run.errors.len() + run.source_errors.len();
    let status = if to_fix == 0 {
        "✅ nothing to fix".to_string()
    } else {
        let mut parts = Vec::new();
        if errors + warnings > 0 {
            parts.push(plural(errors + warnings, "finding", "findings"));
        }
        if !run.errors.is_empty() {
            parts.push(plural(run.errors.len(), "file error", "file errors"));
        }
        if !run.source_errors.is_empty() {
            parts.push(plural(
                run.source_errors.len(),
                "source error",
                "source errors",
            ));
        }
        format!("⚠️ {} to fix", parts.join(" and "))
    };
    let _ = writeln!(md, "\n**Status:** {status}");

    let mut titles: Vec<&'static str> = AREAS.iter().map(|a| a.title).collect();
    if tally.rules().any(|rule| area_of(rule) == OTHER) {
        titles.push(OTHER);
    }

    // Per area, its checklist line: under "Fine" when it has nothing to fix, else "To fix".
    let mut fine_areas = Vec::new();
    let mut open_areas = Vec::new();
    for &title in &titles {
        let _ = writeln!(md, "\n## {title}\n");
        if let Some(area) = AREAS.iter().find(|a| a.title == title) {
            let rules: Vec<String> = area.rules.iter().map(|r| format!("`{r}`")).collect();
            let _ = writeln!(md, "{} Rules: {}.\n", area.about, rules.join(", "));
        }
        // The findings of one area at a time, written as they come: the report is not held
        // whole.
        let mut area = AreaCounts::default();
        for f in run.findings() {
            if area_of(f.rule) == title {
                finding_item(&mut md, f);
                area.add(f);
                write_out(&mut md, out, false)?;
            }
        }
        if area.total() == 0 {
            md.push_str("No findings.\n");
        }
        if area.errors + area.warnings == 0 {
            let notes = if area.total() == 0 {
                String::new()
            } else {
                format!(" ({})", area.counts())
            };
            fine_areas.push(format!("- [x] {title}: nothing to fix{notes}"));
        } else {
            open_areas.push(area.to_fix_line(title));
        }
    }

    if !run.errors.is_empty() || !run.source_errors.is_empty() {
        md.push_str("\n## Errors\n\nThese files or sources could not be checked:\n\n");
        for e in &run.errors {
            let _ = writeln!(
                md,
                "- [ ] {} — {}",
                crate::escape::md_code(&format!(
                    "{}:{}:{}",
                    crate::escape::quote_path(&e.path),
                    e.line,
                    e.column
                )),
                escape(&e.message)
            );
            write_out(&mut md, out, false)?;
        }
        for e in &run.source_errors {
            let _ = writeln!(md, "- [ ] {}", escape(e));
        }
    }
    if !run.skipped.is_empty() {
        md.push_str("\n## Skipped files\n\n");
        for s in &run.skipped {
            let _ = writeln!(
                md,
                "- {} — {}",
                crate::escape::md_code(&crate::escape::quote_path(&s.path)),
                escape(&s.reason)
            );
            write_out(&mut md, out, false)?;
        }
    }

    md.push_str("\n## Checklist\n\n### Fine\n\n");
    let mut fine = 0;
    for line in fine_areas {
        let _ = writeln!(md, "{line}");
        fine += 1;
    }
    if run.errors.is_empty() {
        let _ = writeln!(
            md,
            "- [x] {} read without errors",
            plural(run.files_checked, "file", "files")
        );
        fine += 1;
    }
    if fine == 0 {
        md.push_str("- (none)\n");
    }

    md.push_str("\n### To fix\n\n");
    let mut open = 0;
    for line in open_areas {
        let _ = writeln!(md, "{line}");
        open += 1;
    }
    if !run.errors.is_empty() {
        let _ = writeln!(
            md,
            "- [ ] {} that could not be read",
            plural(run.errors.len(), "file", "files")
        );
        open += 1;
    }
    if !run.source_errors.is_empty() {
        let _ = writeln!(
            md,
            "- [ ] {} that could not be resolved",
            plural(run.source_errors.len(), "source", "sources")
        );
        open += 1;
    }
    if open == 0 {
        md.push_str("- (nothing)\n");
    }

    let _ = writeln!(md, "\n{IRSA_NOTE}");
    write_out(&mut md, out, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_outside_code_only() {
        assert_eq!(
            escape("pass --source '*/x/*=<path>' or `a*b <c>`"),
            "pass --source '\\*/x/\\*=\\<path\\>' or `a*b <c>`"
        );
        assert_eq!(escape("data_ingestion _x_"), "data_ingestion \\_x\\_");
        assert_eq!(escape("odd ` tick"), "odd \\` tick");
        // A run no run of its length closes is text, and what follows it is escaped.
        assert_eq!(escape("`<img src=x>```"), "\\`\\<img src=x\\>\\`\\`\\`");
        assert_eq!(escape("``a`b`` <i>"), "``a`b`` \\<i\\>");
        assert_eq!(escape("a\nb\x1b[2J"), "a\\\\nb\\\\x1b\\[2J");
    }

    #[test]
    fn every_listed_rule_exists() {
        for area in AREAS {
            for rule in area.rules {
                assert!(crate::rules::find(rule).is_some(), "unknown rule {rule}");
            }
        }
    }
}
