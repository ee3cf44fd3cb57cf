//! `manifix rules`, `manifix explain ID` and `manifix recipes [NAME]`: what manifix knows,
//! printed.

use super::shared::{AppError, EXIT_CLEAN};
use crate::recipe::Recipe;
use crate::rules;
use std::io::Write;

/// `manifix rules`: one line per rule.
pub(super) fn rules(out: &mut dyn Write) -> Result<u8, AppError> {
    for rule in rules::all() {
        let m = rule.meta();
        let fix = if m.fixable { "fix" } else { "   " };
        writeln!(
            out,
            "{:<24} {:<8} {fix}  {}",
            m.id,
            m.severity.as_str(),
            m.summary
        )?;
    }
    Ok(EXIT_CLEAN)
}

/// `manifix explain ID`: a rule's (or a recipe step's) explanation.
pub(super) fn explain(rule: &str, out: &mut dyn Write) -> Result<u8, AppError> {
    if let Some(text) = crate::recipe::steps::explain(rule) {
        writeln!(out, "{text}")?;
        return Ok(EXIT_CLEAN);
    }
    let rule = rules::find(rule).ok_or_else(|| AppError::UnknownRule(rule.to_string()))?;
    let m = rule.meta();
    writeln!(
        out,
        "{} ({})\n\n{}\n\n{}",
        m.id,
        m.severity.as_str(),
        m.summary,
        m.explanation
    )?;
    Ok(EXIT_CLEAN)
}

/// `manifix recipes`: the built-ins, or one of them in full.
pub(super) fn recipes(name: Option<&str>, out: &mut dyn Write) -> Result<u8, AppError> {
    let Some(name) = name else {
        for (name, text) in crate::recipe::BUILTINS {
            let recipe = Recipe::outline(text, name)?;
            let params: Vec<String> = recipe
                .params
                .iter()
                .map(|p| {
                    if p.required {
                        format!("--set {}=...", p.name)
                    } else {
                        format!("[--set {}=...]", p.name)
                    }
                })
                .collect();
            writeln!(out, "{:<26} {}", recipe.name, recipe.description)?;
            if !params.is_empty() {
                writeln!(out, "{:<26} {}", "", params.join(" "))?;
            }
        }
        writeln!(
            out,
            "\n`manifix recipes NAME` prints one; a recipe file of your own works wherever a name does."
        )?;
        return Ok(EXIT_CLEAN);
    };
    let Some((_, text)) = crate::recipe::BUILTINS.iter().find(|(n, _)| *n == name) else {
        return Err(AppError::Usage(format!(
            "no built-in recipe named {name:?}; `manifix recipes` lists them"
        )));
    };
    write!(out, "{text}")?;
    Ok(EXIT_CLEAN)
}
