//! Reads a recipe's YAML with manifix's own parser, so that every error names the file, the line
//! and column, and the field (`steps[0].replace-account.from`), and `${param}` values are filled
//! in where they stand.

use super::validate::{check_account, check_path_glob, check_region, check_registry, is_name};
use super::{Param, Recipe, RuleUse, Step};
use crate::text::LineIndex;
use crate::yaml::{parse, Node, Scalar, Style};
use std::collections::BTreeMap;
use std::fmt;

/// A recipe that cannot be used: where, which field, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecipeError {
    /// `path:line:col`, when the problem has a place in the file.
    pub at: Option<String>,
    pub field: Option<String>,
    pub message: String,
}

impl RecipeError {
    pub fn plain(message: String) -> RecipeError {
        RecipeError {
            at: None,
            field: None,
            message,
        }
    }
}

impl fmt::Display for RecipeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(at) = &self.at {
            write!(f, "{at}: ")?;
        }
        if let Some(field) = &self.field {
            write!(f, "{field}: ")?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for RecipeError {}

const TOP_FIELDS: &[&str] = &["name", "description", "params", "rules", "steps", "paths"];

struct Reader<'a> {
    shown: &'a str,
    lines: LineIndex<'a>,
    /// Parameter values: `--set` first, then defaults.
    values: BTreeMap<String, String>,
    declared: Vec<String>,
}

impl Reader<'_> {
    fn error_at(&self, offset: usize, field: &str, message: impl Into<String>) -> RecipeError {
        let (line, col) = self.lines.line_col(offset);
        RecipeError {
            at: Some(format!("{}:{line}:{col}", self.shown)),
            field: (!field.is_empty()).then(|| field.to_string()),
            message: message.into(),
        }
    }

    fn error(&self, key: &Scalar, field: &str, message: impl Into<String>) -> RecipeError {
        self.error_at(key.span.start, field, message)
    }

    /// A string value with parameters filled in; `None` for null, or for a value that is only
    /// `${param}` of an optional parameter left unset.
    fn string(
        &self,
        key: &Scalar,
        node: &Node,
        field: &str,
    ) -> Result<Option<String>, RecipeError> {
        let Node::Scalar(s) = node else {
            return Err(self.error(key, field, "expected a single value, not a list or mapping"));
        };
        if s.style == Style::Plain
            && matches!(s.value.as_str(), "" | "~" | "null" | "Null" | "NULL")
        {
            return Ok(None);
        }
        let mut out = String::new();
        let mut rest = s.value.as_str();
        while let Some(open) = rest.find("${") {
            out.push_str(&rest[..open]);
            let close = rest[open..]
                .find('}')
                .ok_or_else(|| self.error(s, field, format!("unclosed ${{ in {:?}", s.value)))?;
            let name = &rest[open + 2..open + close];
            if !self.declared.iter().any(|d| d == name) {
                return Err(self.error(
                    s,
                    field,
                    format!(
                        "unknown parameter ${{{name}}}; declared under params: {}",
                        list_or_none(&self.declared)
                    ),
                ));
            }
            match self.values.get(name) {
                Some(v) => out.push_str(v),
                None if s.value == format!("${{{name}}}") => return Ok(None),
                None => {
                    return Err(self.error(
                        s,
                        field,
                        format!("parameter {name} is not set (--set {name}=...)"),
                    ))
                }
            }
            rest = &rest[open + close + 1..];
        }
        out.push_str(rest);
        Ok(Some(out))
    }

    fn required(&self, key: &Scalar, node: &Node, field: &str) -> Result<String, RecipeError> {
        self.string(key, node, field)?
            .ok_or_else(|| self.error(key, field, "a value is required here"))
    }

    /// The entries of a mapping (null counts as empty), keys checked against `allowed`.
    fn mapping<'n>(
        &self,
        key: &Scalar,
        node: &'n Node,
        field: &str,
        allowed: &[&str],
    ) -> Result<Vec<(&'n Scalar, &'n Node)>, RecipeError> {
        let entries = match node {
            Node::Mapping(entries) => entries,
            Node::Scalar(s) if s.style == Style::Plain && s.value.is_empty() => return Ok(vec![]),
            _ => return Err(self.error(key, field, "expected a mapping of fields")),
        };
        let mut out = Vec::new();
        for (k, v) in entries {
            let Node::Scalar(k) = k else {
                return Err(self.error(key, field, "keys must be plain names"));
            };
            if !allowed.is_empty() && !allowed.contains(&k.value.as_str()) {
                return Err(self.error(
                    k,
                    &join(field, &k.value),
                    format!("unknown field; expected one of {}", allowed.join(", ")),
                ));
            }
            out.push((k, v));
        }
        Ok(out)
    }

    fn strings(
        &self,
        key: &Scalar,
        node: &Node,
        field: &str,
    ) -> Result<Vec<(String, usize)>, RecipeError> {
        let items: Vec<&Node> = match node {
            Node::Sequence(items) => items.iter().collect(),
            Node::Scalar(_) => vec![node],
            _ => return Err(self.error(key, field, "expected a list of strings")),
        };
        let mut out = Vec::new();
        for (i, item) in items.into_iter().enumerate() {
            let at = item.as_scalar().map_or(key.span.start, |s| s.span.start);
            let f = format!("{field}[{i}]");
            if let Some(v) = self.string(key, item, &f)? {
                out.push((v, at));
            }
        }
        Ok(out)
    }
}

fn join(field: &str, key: &str) -> String {
    if field.is_empty() {
        key.to_string()
    } else {
        format!("{field}.{key}")
    }
}

fn list_or_none(names: &[String]) -> String {
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

/// How much of a recipe to read: all of it to run it, or only its name, description and
/// parameters to list it (its required parameters are then not asked for).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Depth {
    Outline,
    Full,
}

pub(super) fn read(
    text: &str,
    shown: &str,
    given: &BTreeMap<String, String>,
    depth: Depth,
) -> Result<Recipe, RecipeError> {
    let mut reader = Reader {
        shown,
        lines: LineIndex::new(text),
        values: BTreeMap::new(),
        declared: Vec::new(),
    };
    let parsed = parse(text).map_err(|e| RecipeError {
        at: Some(format!("{shown}:{}:{}", e.line, e.column)),
        field: None,
        message: format!("not valid YAML: {}", e.message),
    })?;
    let root = match parsed.documents.as_slice() {
        [doc] => &doc.root,
        _ => {
            return Err(reader.error_at(
                0,
                "",
                "a recipe is one YAML document (a mapping with name, description, rules/steps)",
            ))
        }
    };
    let top_key = Scalar {
        value: String::new(),
        style: Style::Plain,
        span: 0..0,
        ordinal: 0,
        tagged: false,
    };
    let entries = reader.mapping(&top_key, root, "", TOP_FIELDS)?;
    let field = |name: &str| entries.iter().find(|(k, _)| k.value == name).copied();

    // Parameters first: every other value may use them.
    let mut params = Vec::new();
    if let Some((key, node)) = field("params") {
        for (pkey, pnode) in reader.mapping(key, node, "params", &[])? {
            let f = format!("params.{}", pkey.value);
            if !is_name(&pkey.value) {
                return Err(reader.error(
                    pkey,
                    &f,
                    "parameter names are lowercase letters, digits, - and _",
                ));
            }
            let mut param = Param {
                name: pkey.value.clone(),
                description: String::new(),
                required: false,
                default: None,
            };
            for (k, v) in
                reader.mapping(pkey, pnode, &f, &["description", "required", "default"])?
            {
                let sub = join(&f, &k.value);
                match k.value.as_str() {
                    "description" => {
                        param.description = reader.string(k, v, &sub)?.unwrap_or_default()
                    }
                    "required" => {
                        param.required = match v.as_str() {
                            Some("true") => true,
                            Some("false") => false,
                            _ => return Err(reader.error(k, &sub, "expected true or false")),
                        }
                    }
                    _ => param.default = v.as_str().map(str::to_string),
                }
            }
            params.push(param);
        }
    }
    reader.declared = params.iter().map(|p| p.name.clone()).collect();
    for name in given.keys() {
        if !reader.declared.contains(name) {
            return Err(RecipeError::plain(format!(
                "--set {name}: {shown} has no parameter {name}; its parameters: {}",
                list_or_none(&reader.declared)
            )));
        }
    }
    for p in &params {
        match given.get(&p.name).or(p.default.as_ref()) {
            Some(v) => {
                reader.values.insert(p.name.clone(), v.clone());
            }
            None if p.required && depth == Depth::Full => {
                return Err(RecipeError::plain(format!(
                    "{shown} needs --set {}=...: {}",
                    p.name,
                    if p.description.is_empty() {
                        "a required parameter"
                    } else {
                        &p.description
                    }
                )))
            }
            None => {}
        }
    }

    let name_of = |name: &str| -> Result<String, RecipeError> {
        let (key, node) = field(name)
            .ok_or_else(|| reader.error_at(0, name, format!("missing; a recipe needs {name}:")))?;
        reader.required(key, node, name)
    };
    let name = name_of("name")?;
    if !is_name(&name) {
        let (key, _) = field("name").expect("read above");
        return Err(reader.error(
            key,
            "name",
            "use lowercase letters, digits and - (kebab-case)",
        ));
    }
    let description = name_of("description")?;
    let outline = Recipe {
        name,
        description,
        origin: String::new(),
        text: String::new(),
        params,
        values: reader.values.clone(),
        rules: Vec::new(),
        steps: Vec::new(),
        include: Vec::new(),
        exclude: Vec::new(),
        include_set: None,
        exclude_set: None,
    };
    if depth == Depth::Outline {
        return Ok(outline);
    }

    let mut rules = Vec::new();
    if let Some((key, node)) = field("rules") {
        for (rkey, rnode) in reader.mapping(key, node, "rules", &[])? {
            rules.push(read_rule(&reader, rkey, rnode)?);
        }
    }
    let mut steps = Vec::new();
    if let Some((key, node)) = field("steps") {
        let items = match node {
            Node::Sequence(items) => items,
            _ => return Err(reader.error(key, "steps", "expected a list of steps")),
        };
        for (i, item) in items.iter().enumerate() {
            steps.push(read_step(&reader, key, item, i)?);
        }
    }
    if rules.is_empty() && steps.is_empty() {
        return Err(reader.error_at(
            0,
            "",
            "the recipe has neither rules nor steps: nothing to do",
        ));
    }

    let (mut include, mut exclude) = (Vec::new(), Vec::new());
    if let Some((key, node)) = field("paths") {
        for (k, v) in reader.mapping(key, node, "paths", &["include", "exclude"])? {
            let f = join("paths", &k.value);
            let globs = reader.strings(k, v, &f)?;
            for (i, (glob, at)) in globs.iter().enumerate() {
                check_path_glob(glob).map_err(|m| reader.error_at(*at, &format!("{f}[{i}]"), m))?;
            }
            let list = globs.into_iter().map(|(g, _)| g).collect();
            if k.value == "include" {
                include = list;
            } else {
                exclude = list;
            }
        }
    }

    Ok(Recipe {
        rules,
        steps,
        include,
        exclude,
        ..outline
    })
}

fn read_rule(reader: &Reader, key: &Scalar, node: &Node) -> Result<RuleUse, RecipeError> {
    let f = format!("rules.{}", key.value);
    let rule = crate::rules::find(&key.value)
        .ok_or_else(|| reader.error(key, &f, "unknown rule; `manifix rules` lists them"))?;
    let id = rule.meta().id;
    let allowed: &[&str] = match id {
        "placeholder-account" => &["account"],
        "mutable-tag" => &["template"],
        _ => &[],
    };
    let mut use_ = RuleUse {
        id,
        account: None,
        template: None,
    };
    let entries = match node {
        Node::Mapping(m) if m.is_empty() => vec![],
        Node::Mapping(_) if allowed.is_empty() => {
            return Err(reader.error(
                key,
                &f,
                "this rule takes no parameters (write {} or nothing)",
            ))
        }
        _ => reader.mapping(key, node, &f, allowed)?,
    };
    for (k, v) in entries {
        let sub = join(&f, &k.value);
        let Some(value) = reader.string(k, v, &sub)? else {
            continue;
        };
        match k.value.as_str() {
            "account" => {
                check_account(&value).map_err(|m| reader.error(k, &sub, m))?;
                use_.account = Some(value);
            }
            _ => {
                crate::resolve::pins::validate_template(&value)
                    .map_err(|m| reader.error(k, &sub, m))?;
                use_.template = Some(value);
            }
        }
    }
    Ok(use_)
}

const STEPS: &[&str] = &["replace-account", "move-registry", "set-region", "pin-tags"];

fn read_step(
    reader: &Reader,
    list_key: &Scalar,
    item: &Node,
    index: usize,
) -> Result<Step, RecipeError> {
    let f = format!("steps[{index}]");
    let entries = match item {
        Node::Mapping(entries) if entries.len() == 1 => entries,
        _ => {
            return Err(reader.error(
                list_key,
                &f,
                format!(
                    "each step is a mapping with one key, the step's name: {}",
                    STEPS.join(", ")
                ),
            ))
        }
    };
    let (Node::Scalar(key), node) = (&entries[0].0, &entries[0].1) else {
        return Err(reader.error(list_key, &f, "a step's name must be a plain key"));
    };
    let f = join(&f, &key.value);
    let fields: &[&str] = match key.value.as_str() {
        "pin-tags" => &["template"],
        name if STEPS.contains(&name) => &["from", "to"],
        _ => {
            return Err(reader.error(
                key,
                &f,
                format!("unknown step; steps are {}", STEPS.join(", ")),
            ))
        }
    };
    let mut values: BTreeMap<&str, (String, &Scalar)> = BTreeMap::new();
    for (k, v) in reader.mapping(key, node, &f, fields)? {
        if let Some(value) = reader.string(k, v, &join(&f, &k.value))? {
            values.insert(
                fields
                    .iter()
                    .find(|x| **x == k.value)
                    .copied()
                    .unwrap_or(""),
                (value, k),
            );
        }
    }
    if key.value == "pin-tags" {
        let template = values.remove("template");
        if let Some((t, k)) = &template {
            crate::resolve::pins::validate_template(t)
                .map_err(|m| reader.error(k, &join(&f, "template"), m))?;
        }
        return Ok(Step::PinTags {
            template: template.map(|(t, _)| t),
        });
    }
    let mut take = |name: &str| {
        values.remove(name).ok_or_else(|| {
            reader.error(
                key,
                &join(&f, name),
                "missing; this step needs from: and to:",
            )
        })
    };
    let (from, from_key) = take("from")?;
    let (to, to_key) = take("to")?;
    let check: fn(&str) -> Result<String, String> = match key.value.as_str() {
        "replace-account" => check_account,
        "set-region" => check_region,
        _ => check_registry,
    };
    let from = check(&from).map_err(|m| reader.error(from_key, &join(&f, "from"), m))?;
    let to = check(&to).map_err(|m| reader.error(to_key, &join(&f, "to"), m))?;
    if from == to {
        return Err(reader.error(
            to_key,
            &join(&f, "to"),
            format!("from and to are the same ({from}): nothing to do"),
        ));
    }
    Ok(match key.value.as_str() {
        "replace-account" => Step::ReplaceAccount { from, to },
        "set-region" => Step::SetRegion { from, to },
        _ => Step::MoveRegistry { from, to },
    })
}

#[cfg(test)]
mod tests {
    use super::super::Recipe;

    fn error(text: &str, sets: &[&str]) -> String {
        let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
        Recipe::parse(text, "t", "r.yaml", &sets)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn errors_name_the_line_and_the_field() {
        let e = error("name: r\ndescription: d\nsteps:\n  - replace-account:\n      from: 111111111111\n      to: 12345\n", &[]);
        assert_eq!(e, "r.yaml:6:7: steps[0].replace-account.to: \"12345\" is not an AWS account ID (12 digits)");
        let e = error("name: r\ndescription: d\nstep:\n  - x: 1\n", &[]);
        assert!(e.starts_with("r.yaml:3:1: step: unknown field"), "{e}");
        let e = error("name: r\ndescription: d\nrules:\n  no-such-rule: {}\n", &[]);
        assert!(
            e.starts_with("r.yaml:4:3: rules.no-such-rule: unknown rule"),
            "{e}"
        );
        let e = error(
            "name: r\ndescription: d\nsteps:\n  - set-region: {from: us-east-1, too: x}\n",
            &[],
        );
        assert!(
            e.starts_with("r.yaml:4:35: steps[0].set-region.too: unknown field"),
            "{e}"
        );
        let e = error("name: r\ndescription: d\nsteps:\n  - rename-all: {}\n", &[]);
        assert!(
            e.starts_with("r.yaml:4:5: steps[0].rename-all: unknown step"),
            "{e}"
        );
        let e = error("name: r\ndescription: d\nrules: {placeholder-account: {}}\npaths:\n  include: ['../other/**']\n", &[]);
        assert!(
            e.starts_with("r.yaml:5:13: paths.include[0]: \"../other/**\" leaves the repository"),
            "{e}"
        );
        let e = error("name: r\ndescription: [d\n", &[]);
        assert!(e.starts_with("r.yaml:"), "{e}");
        assert!(e.contains("not valid YAML"), "{e}");
    }

    #[test]
    fn parameters_are_declared_filled_and_required() {
        let text = "name: r\ndescription: d\nparams:\n  to: {required: true}\nsteps:\n  - replace-account: {from: '111111111111', to: '${to}'}\n";
        assert!(error(text, &[]).contains("needs --set to=..."));
        assert!(error(text, &["to=1", "x=2"]).contains("has no parameter x"));
        let e = error(text, &["to=1"]);
        assert!(
            e.starts_with("r.yaml:6:45: steps[0].replace-account.to: \"1\" is not"),
            "{e}"
        );
        let r = Recipe::parse(text, "t", "r.yaml", &["to=222222222222".into()]).unwrap();
        assert_eq!(
            r.steps,
            vec![super::Step::ReplaceAccount {
                from: "111111111111".into(),
                to: "222222222222".into()
            }]
        );
        let e = error(
            "name: r\ndescription: d\nsteps:\n  - pin-tags: {template: '${t}'}\n",
            &[],
        );
        assert!(e.contains("unknown parameter ${t}"), "{e}");
    }
}
