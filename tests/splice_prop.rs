//! Property test of the splice + verify engine: random YAML from the yaml-test-suite, random
//! scalar edits with hostile replacement text. `plan` may refuse; when it returns text, that
//! text must read back exactly as planned, checked here without the engine's own verifier:
//!
//! - manifix's document model of the new text: same structure and comments, every edited
//!   scalar holding exactly its planned value, every other scalar unchanged, and every byte
//!   outside the edited scalars as it was;
//! - a second, independent parser (libyaml-safer, a port of libyaml, the lineage of kubectl's
//!   go-yaml): wherever it reads the original exactly as manifix does, it must read the new
//!   text as planned too.
//!
//! The budget is fixed (`CASES`) and so is the seed: CI runs the same cases every time, and a
//! failure names its case so it can be replayed.

mod common;

use common::shape::shapes;
use manifix::locate::locate;
use manifix::yaml::quote::resolves_to_string;
use manifix::yaml::splice::{plan, plan_text, EditError, ScalarEdit};
use manifix::yaml::{parse, ParsedFile, Scalar, Style};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, RngSeed, TestCaseError, TestRunner};
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

const SUITE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/corpus/yaml-test-suite/data"
);

/// Cases per property in CI: about a second in the debug test profile (30k: ~3.5 s).
const CASES: u32 = 10_000;
const SEED: u64 = 0x6d61_6e69_6669_7801;

/// The fixed budget and seed; `MANIFIX_PROP_CASES` and `MANIFIX_PROP_SEED` override them for a
/// longer search by hand (CI sets neither).
fn config(cases: u32) -> Config {
    let env = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok());
    let scale = env("MANIFIX_PROP_CASES").map_or(1.0, |n| n as f64 / f64::from(CASES));
    Config {
        cases: (f64::from(cases) * scale) as u32,
        // Deterministic: no regression files written next to the test, no random seed.
        failure_persistence: None,
        rng_seed: RngSeed::Fixed(env("MANIFIX_PROP_SEED").unwrap_or(SEED)),
        max_shrink_iters: 2000,
        ..Config::default()
    }
}

/// Replacement pieces that stress quoting, escaping, folding and type resolution.
const ATOMS: &[&str] = &[
    ": ",
    " #",
    "#",
    ":",
    "'",
    "''",
    "\"",
    "\\",
    "\\n",
    "\n",
    "\r\n",
    "\r",
    "\t",
    " ",
    "  ",
    "\n\n",
    "é",
    "日本",
    "😀",
    "\u{feff}",
    "\u{85}",
    "\u{2028}",
    "\u{a0}",
    "\0",
    "\u{7f}",
    "",
    "123",
    "0123",
    "1e3",
    "0x1F",
    ".5",
    "-1",
    "+1",
    "1_000",
    "1:20",
    ".inf",
    "true",
    "False",
    "yes",
    "no",
    "on",
    "null",
    "Null",
    "~",
    "{",
    "}",
    "[",
    "]",
    ",",
    "*",
    "&",
    "!",
    "!!str",
    "%",
    "@",
    "`",
    "---",
    "...",
    "-",
    "- ",
    "? ",
    "?",
    "|",
    ">",
    "<<",
    "=",
    "a",
    "Z",
    "9",
    "123456789012",
    "465002806239",
    "arn:aws:iam::123456789012:role/x",
];

fn replacement() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            4 => prop::sample::select(ATOMS).prop_map(str::to_string),
            2 => "[a-z0-9._/-]{1,6}",
            1 => any::<char>().prop_map(String::from),
        ],
        0..5,
    )
    .prop_map(|parts| parts.concat())
}

/// One scalar's edits: the whole value, or one or two sub-ranges of it.
#[derive(Debug, Clone)]
struct EditSpec {
    scalar: Index,
    whole: bool,
    two: bool,
    cuts: [Index; 4],
    with: [String; 2],
}

fn edit_spec() -> impl Strategy<Value = EditSpec> {
    (
        any::<Index>(),
        any::<bool>(),
        any::<bool>(),
        any::<[Index; 4]>(),
        [replacement(), replacement()],
    )
        .prop_map(|(scalar, whole, two, cuts, with)| EditSpec {
            scalar,
            whole,
            two,
            cuts,
            with,
        })
}

struct Input {
    id: String,
    text: String,
    parsed: ParsedFile,
    /// libyaml's reading of the text, when it agrees with manifix's: the oracle is only
    /// consulted where the two parsers agree on the original.
    oracle: Option<Vec<Ev>>,
}

/// Every valid case's `in.yaml`, as written and with CRLF line endings.
fn inputs() -> Vec<Input> {
    let data = Path::new(SUITE);
    let dirs = common::suite::case_dirs(data);
    let mut out = Vec::new();
    for dir in dirs.iter().filter(|d| !d.join("error").exists()) {
        let id = dir
            .strip_prefix(data)
            .expect("under data/")
            .to_string_lossy()
            .into_owned();
        let Ok(text) = std::fs::read_to_string(dir.join("in.yaml")) else {
            continue;
        };
        let crlf = text.replace('\n', "\r\n");
        for (id, text) in [(id.clone(), text), (format!("{id}/crlf"), crlf)] {
            let Ok(parsed) = parse(&text) else { continue };
            if parsed.scalars().is_empty() {
                continue;
            }
            let oracle = libyaml_events(&text).filter(|evs| agrees(evs, &parsed));
            out.push(Input {
                id,
                text,
                parsed,
                oracle,
            });
        }
    }
    out
}

/// Char boundaries of `value`, its length included.
fn boundaries(value: &str) -> Vec<usize> {
    value
        .char_indices()
        .map(|(i, _)| i)
        .chain([value.len()])
        .collect()
}

/// The concrete edits a spec stands for on `scalar`.
fn edits_for(spec: &EditSpec, scalar: &Scalar) -> Vec<ScalarEdit> {
    let edit = |range: Range<usize>, with: &str| ScalarEdit {
        ordinal: scalar.ordinal,
        range,
        replacement: with.to_string(),
        inner: None,
    };
    if spec.whole {
        return vec![edit(0..scalar.value.len(), &spec.with[0])];
    }
    let b = boundaries(&scalar.value);
    let mut at: Vec<usize> = spec.cuts.iter().map(|i| b[i.index(b.len())]).collect();
    at.sort_unstable();
    if spec.two {
        vec![
            edit(at[0]..at[1], &spec.with[0]),
            edit(at[2]..at[3], &spec.with[1]),
        ]
    } else {
        vec![edit(at[0]..at[3], &spec.with[0])]
    }
}

/// The value `plan` is asked to produce: edits applied in its order (by range, stable).
fn planned_value(value: &str, edits: &[&ScalarEdit]) -> String {
    let mut sorted = edits.to_vec();
    sorted.sort_by_key(|e| (e.range.start, e.range.end));
    let mut out = String::new();
    let mut cursor = 0;
    for e in sorted {
        out.push_str(&value[cursor..e.range.start]);
        out.push_str(&e.replacement);
        cursor = e.range.end;
    }
    out.push_str(&value[cursor..]);
    out
}

#[derive(Default)]
struct Stats {
    tried: usize,
    applied: usize,
    oracle_checked: usize,
    multi_scalar: usize,
    sub_range: usize,
    refused: BTreeMap<String, usize>,
}

fn refusal_kind(err: &EditError) -> String {
    match err {
        EditError::Unmappable { reason, .. } => format!("unmappable: {reason}"),
        EditError::Verify(_) => "verify".into(),
        EditError::Reparse(_) => "reparse".into(),
        EditError::Overlap(_) => "overlap".into(),
        other => format!("{other}"),
    }
}

#[test]
fn random_edits_of_suite_yaml_verify_or_are_refused() {
    let inputs = inputs();
    assert!(inputs.len() > 400, "only {} inputs", inputs.len());
    let oracle_inputs = inputs.iter().filter(|i| i.oracle.is_some()).count();
    assert!(
        oracle_inputs > 150,
        "libyaml agrees with manifix on only {oracle_inputs} inputs"
    );
    let stats = RefCell::new(Stats::default());
    let strategy = (any::<Index>(), prop::collection::vec(edit_spec(), 1..=3));
    let mut runner = TestRunner::new(config(CASES));
    let result = runner.run(&strategy, |(pick, specs)| {
        let input = pick.get(&inputs);
        let scalars = input.parsed.scalars();
        let mut edits = Vec::new();
        let mut targets = BTreeSet::new();
        let mut partial = false;
        for spec in &specs {
            let scalar = *spec.scalar.get(&scalars);
            if targets.insert(scalar.ordinal) {
                partial |= !spec.whole;
                edits.extend(edits_for(spec, scalar));
            }
        }
        let mut want = BTreeMap::new();
        for ordinal in &targets {
            let mine: Vec<&ScalarEdit> = edits.iter().filter(|e| e.ordinal == *ordinal).collect();
            let value = &scalars
                .iter()
                .find(|s| s.ordinal == *ordinal)
                .expect("ordinal")
                .value;
            want.insert(*ordinal, planned_value(value, &mine));
        }
        let ctx = || {
            format!(
                "case {} edits {edits:#?}\n--- text:\n{}",
                input.id, input.text
            )
        };
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            plan(&input.text, &input.parsed, &edits)
        }))
        .map_err(|_| TestCaseError::fail(format!("plan panicked: {}", ctx())))?;
        // The planner the fix stage uses (scalars taken from the parser's events rather than
        // from the model) must plan exactly the same text, or refuse alike.
        let from_events = plan_text(&input.text, &edits);
        if from_events.as_ref().map(|p| &p.text) != outcome.as_ref().map(|p| &p.text) {
            return Err(TestCaseError::fail(format!(
                "plan_text differs from plan: {:?} vs {:?}\n{}",
                from_events.map(|p| p.text),
                outcome.map(|p| p.text),
                ctx()
            )));
        }
        let mut st = stats.borrow_mut();
        st.tried += 1;
        match outcome {
            Err(err) => {
                *st.refused.entry(refusal_kind(&err)).or_default() += 1;
            }
            Ok(planned) => {
                st.applied += 1;
                st.multi_scalar += usize::from(targets.len() > 1);
                st.sub_range += usize::from(partial);
                check_model(input, &want, &planned.text, &planned.edits).map_err(|m| {
                    TestCaseError::fail(format!("{m}\n{}\n--- new:\n{}", ctx(), planned.text))
                })?;
                if let Some(before) = &input.oracle {
                    st.oracle_checked += 1;
                    check_oracle(before, &input.parsed, &want, &planned.text).map_err(|m| {
                        TestCaseError::fail(format!(
                            "libyaml reads the edited text differently: {m}\n{}\n--- new:\n{}",
                            ctx(),
                            planned.text
                        ))
                    })?;
                }
            }
        }
        Ok(())
    });
    let st = stats.into_inner();
    eprintln!(
        "tried {}, applied {} ({} over several scalars, {} with sub-ranges), checked by libyaml {}, refused {:?}",
        st.tried, st.applied, st.multi_scalar, st.sub_range, st.oracle_checked, st.refused
    );
    if let Err(e) = result {
        panic!("{e}");
    }
    // Refusing everything would pass the checks above: demand that most edits go through.
    assert!(
        st.applied * 2 > st.tried,
        "only {} of {} edits applied",
        st.applied,
        st.tried
    );
    assert!(
        st.oracle_checked * 5 > st.applied,
        "libyaml checked only {}",
        st.oracle_checked
    );
    assert!(
        st.multi_scalar > 100 && st.sub_range > 100,
        "too few multi-edit plans"
    );
}

/// The shape of a document without its scalars' contents.
/// Reads the new text with manifix's own model (not its verifier) and checks it against the
/// plan: values, styles, structure, comments, and the bytes between edited scalars.
fn check_model(
    input: &Input,
    want: &BTreeMap<usize, String>,
    new_text: &str,
    text_edits: &[manifix::yaml::splice::TextEdit],
) -> Result<(), String> {
    let after = parse(new_text).map_err(|e| format!("the new text does not parse: {e}"))?;
    if shapes(&input.parsed) != shapes(&after) {
        return Err("the structure changed".into());
    }
    let old = input.parsed.scalars();
    let new = after.scalars();
    if old.len() != new.len() {
        return Err(format!("{} scalars became {}", old.len(), new.len()));
    }
    for (o, n) in old.iter().zip(&new) {
        if o.tagged != n.tagged {
            return Err(format!("scalar #{}: tag added or lost", o.ordinal));
        }
        match want.get(&o.ordinal) {
            Some(w) => {
                if &n.value != w {
                    return Err(format!(
                        "scalar #{} reads {:?}, planned {w:?}",
                        o.ordinal, n.value
                    ));
                }
                if n.style != o.style && n.style != Style::DoubleQuoted {
                    return Err(format!(
                        "scalar #{}: {:?} became {:?}",
                        o.ordinal, o.style, n.style
                    ));
                }
                // A plain string must not come back as a number, bool or null.
                if n.style == Style::Plain
                    && !o.tagged
                    && resolves_to_string(&o.value)
                    && !resolves_to_string(&n.value)
                {
                    return Err(format!(
                        "scalar #{}: plain {:?} changes type",
                        o.ordinal, n.value
                    ));
                }
            }
            None => {
                if (&o.value, o.style) != (&n.value, n.style) {
                    return Err(format!(
                        "unedited scalar #{} changed: {:?} {:?} -> {:?} {:?}",
                        o.ordinal, o.style, o.value, n.style, n.value
                    ));
                }
            }
        }
    }
    let comments = |p: &ParsedFile| {
        p.comments
            .iter()
            .map(|c| c.text.clone())
            .collect::<Vec<_>>()
    };
    if comments(&input.parsed) != comments(&after) {
        return Err("comments changed".into());
    }
    // The byte edits stay inside the scalars they edit, and they alone make the new text:
    // every byte outside the edited scalars is as it was.
    let mut sorted: Vec<_> = text_edits.iter().collect();
    sorted.sort_by_key(|e| (e.range.start, e.range.end));
    let mut rebuilt = String::new();
    let mut cursor = 0;
    for te in sorted {
        let inside = old.iter().any(|s| {
            want.contains_key(&s.ordinal)
                && s.span.start <= te.range.start
                && te.range.end <= s.span.end
        });
        if !inside || te.range.start < cursor {
            return Err(format!(
                "byte edit {:?} outside the edited scalars",
                te.range
            ));
        }
        rebuilt.push_str(&input.text[cursor..te.range.start]);
        rebuilt.push_str(&te.replacement);
        cursor = te.range.end;
    }
    rebuilt.push_str(&input.text[cursor..]);
    if rebuilt != new_text {
        return Err("the new text is not the original with the reported byte edits".into());
    }
    Ok(())
}

/// One libyaml event, reduced to what both parsers report the same way.
#[derive(Debug, Clone, PartialEq)]
enum Ev {
    DocStart,
    DocEnd,
    SeqStart(Option<String>),
    SeqEnd,
    MapStart(Option<String>),
    MapEnd,
    Scalar {
        value: String,
        anchor: Option<String>,
        tagged: bool,
    },
    Alias(String),
}

/// libyaml's events for `text`, or `None` when it rejects it. libyaml-safer 0.3 panics on a
/// few inputs (an unexpected end inside a block scalar): that is a rejection too, and its panic
/// message is kept off the test output.
fn libyaml_events(text: &str) -> Option<Vec<Ev>> {
    static QUIET: std::sync::Once = std::sync::Once::new();
    QUIET.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !info
                .location()
                .is_some_and(|l| l.file().contains("libyaml-safer"))
            {
                default(info);
            }
        }));
    });
    catch_unwind(|| libyaml_events_unguarded(text))
        .ok()
        .flatten()
}

fn libyaml_events_unguarded(text: &str) -> Option<Vec<Ev>> {
    use libyaml_safer::{EventData, Parser};
    let mut parser = Parser::new();
    // libyaml-safer 0.3 takes any leading 0xEF byte for the start of a UTF-8 BOM and rejects
    // text that starts with, say, U+F000 (C libyaml compares all three bytes). A real BOM in
    // front is transparent to every reader, and keeps its check from misfiring.
    let guarded;
    let mut bytes = if text.starts_with('\u{feff}')
        || !text.starts_with(|c| ('\u{f000}'..='\u{ffff}').contains(&c))
    {
        text.as_bytes()
    } else {
        guarded = format!("\u{feff}{text}");
        guarded.as_bytes()
    };
    parser.set_input_string(&mut bytes);
    let mut out = Vec::new();
    loop {
        let ev = parser.parse().ok()?;
        out.push(match ev.data {
            EventData::StreamStart { .. } => continue,
            EventData::StreamEnd => break,
            EventData::DocumentStart { .. } => Ev::DocStart,
            EventData::DocumentEnd { .. } => Ev::DocEnd,
            EventData::SequenceStart { anchor, .. } => Ev::SeqStart(anchor),
            EventData::SequenceEnd => Ev::SeqEnd,
            EventData::MappingStart { anchor, .. } => Ev::MapStart(anchor),
            EventData::MappingEnd => Ev::MapEnd,
            EventData::Alias { anchor } => Ev::Alias(anchor),
            EventData::Scalar {
                value, anchor, tag, ..
            } => Ev::Scalar {
                value,
                anchor,
                tagged: tag.is_some(),
            },
        });
    }
    Some(out)
}

fn oracle_scalars(evs: &[Ev]) -> Vec<&str> {
    evs.iter()
        .filter_map(|e| match e {
            Ev::Scalar { value, .. } => Some(value.as_str()),
            _ => None,
        })
        .collect()
}

/// Whether libyaml reads `parsed`'s text with the same scalars, in the same order.
fn agrees(evs: &[Ev], parsed: &ParsedFile) -> bool {
    let mine: Vec<&str> = parsed.scalars().iter().map(|s| s.value.as_str()).collect();
    oracle_scalars(evs) == mine
}

fn check_oracle(
    before: &[Ev],
    parsed: &ParsedFile,
    want: &BTreeMap<usize, String>,
    new_text: &str,
) -> Result<(), String> {
    let after = libyaml_events(new_text).ok_or("it rejects the text")?;
    if after.len() != before.len() {
        return Err(format!("{} events became {}", before.len(), after.len()));
    }
    let ordinals: Vec<usize> = parsed.scalars().iter().map(|s| s.ordinal).collect();
    let mut nth = 0;
    for (b, a) in before.iter().zip(&after) {
        match (b, a) {
            (
                Ev::Scalar {
                    value: bv,
                    anchor: ba,
                    tagged: bt,
                },
                Ev::Scalar {
                    value: av,
                    anchor: aa,
                    tagged: at,
                },
            ) => {
                let expected = want.get(&ordinals[nth]).unwrap_or(bv);
                if av != expected || ba != aa || bt != at {
                    return Err(format!("scalar #{nth} reads {av:?}, planned {expected:?}"));
                }
                nth += 1;
            }
            (b, a) if b == a => {}
            (b, a) => return Err(format!("{b:?} became {a:?}")),
        }
    }
    Ok(())
}

/// Kustomize inline patches: edits of scalars inside a block scalar that holds YAML go through
/// `Site::edit` (plan on the inner document, lifted to the outer scalar). The outer text must
/// read back with the patch text the inner plan made, and that must read back as planned.
#[test]
fn random_edits_inside_inline_patches_verify_or_are_refused() {
    const PATCHES: &[&str] = &[
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n        - name: web\n          image: 123456789012.dkr.ecr.us-east-1.amazonaws.com/web:latest # pinned later\n",
        "- op: replace\n  path: /spec/template/spec/containers/0/image\n  value: \"123456789012.dkr.ecr.us-east-1.amazonaws.com/web:main-latest\"\n",
        "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: app\n  annotations:\n    eks.amazonaws.com/role-arn: 'arn:aws:iam::123456789012:role/app'\n",
        "kind: Deployment\nmetadata: {name: web}\nspec: {template: {spec: {containers: [{name: web, image: reg/web:1}]}}}\n",
    ];
    let wrap = |patch: &str, style: &str| {
        let body: String = patch.lines().map(|l| format!("      {l}\n")).collect();
        format!(
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - ../base\npatches:\n  - target:\n      kind: Deployment\n    patch: {style}\n{body}"
        )
    };
    let mut files = Vec::new();
    for patch in PATCHES {
        for style in ["|", "|-", "|+", ">"] {
            let text = wrap(patch, style);
            let parsed = parse(&text).expect("wrapper parses");
            let sites: Vec<_> = locate(&parsed, "kustomization.yaml")
                .sites
                .into_iter()
                .filter(|s| s.target.inline.is_some())
                .collect();
            if !sites.is_empty() {
                files.push((text, parsed, sites));
            }
        }
    }
    assert!(
        files.len() >= 12,
        "only {} wrapped patches have inline sites",
        files.len()
    );
    let applied = RefCell::new((0usize, 0usize));
    let mut runner = TestRunner::new(config(CASES / 3));
    let strategy = (any::<Index>(), any::<Index>(), edit_spec());
    let result = runner.run(&strategy, |(file, site, spec)| {
        let (text, parsed, sites) = file.get(&files);
        let site = site.get(sites);
        let inline = site.target.inline.as_ref().expect("inline site");
        // A site keeps its value, not its scalar's copy of it.
        let inner = inline.scalar.with_value(site.value.clone());
        let inner_edits = edits_for(&spec, &inner);
        let first = &inner_edits[0];
        applied.borrow_mut().0 += 1;
        // Site::edit lifts one edit; it may decline (then there is nothing to plan).
        let Some(edit) = site.edit(first.range.clone(), &first.replacement) else {
            return Ok(());
        };
        let ctx = || format!("{edit:#?}\n--- text:\n{text}");
        let Ok(planned) = plan(text, parsed, std::slice::from_ref(&edit)) else {
            return Ok(());
        };
        applied.borrow_mut().1 += 1;
        let want_inner = planned_value(&inner.value, &[first]);
        let after = parse(&planned.text)
            .map_err(|e| TestCaseError::fail(format!("outer does not parse: {e}\n{}", ctx())))?;
        let outer = after
            .scalars()
            .into_iter()
            .find(|s| s.ordinal == site.target.scalar.ordinal())
            .cloned()
            .ok_or_else(|| TestCaseError::fail("outer scalar gone"))?;
        let inner_after = parse(&outer.value).map_err(|e| {
            TestCaseError::fail(format!("patch text no longer parses: {e}\n{}", ctx()))
        })?;
        let inline_before = parse(&inline.text)
            .map_err(|e| TestCaseError::fail(format!("patch text does not parse: {e}")))?;
        let old = inline_before.scalars();
        let new = inner_after.scalars();
        prop_assert_eq!(old.len(), new.len(), "{}", ctx());
        for (o, n) in old.iter().zip(&new) {
            let expected = if o.ordinal == inline.scalar.ordinal() {
                &want_inner
            } else {
                &o.value
            };
            prop_assert_eq!(&n.value, expected, "inner scalar #{}\n{}", o.ordinal, ctx());
        }
        // Outside the patch scalar, the file is as it was.
        let tail = text.len() - site.target.scalar.span.end;
        prop_assert_eq!(
            &planned.text[..site.target.scalar.span.start],
            &text[..site.target.scalar.span.start]
        );
        prop_assert_eq!(
            &planned.text[planned.text.len() - tail..],
            &text[text.len() - tail..]
        );
        Ok(())
    });
    let (tried, applied) = applied.into_inner();
    eprintln!("inline patches: tried {tried}, applied {applied}");
    if let Err(e) = result {
        panic!("{e}");
    }
    assert!(
        applied * 3 > tried,
        "only {applied} of {tried} inline edits applied"
    );
}

/// The YAML 1.1 pitfalls the property above found, pinned down: each edit is refused, or
/// written so that libyaml reads exactly the planned value.
#[test]
fn yaml_1_1_readers_read_what_was_planned() {
    let cases: &[(&str, usize, Range<usize>, &str)] = &[
        // U+2028/U+2029 are line breaks to YAML 1.1 readers: escaped, never written raw.
        ("a: b\n", 1, 0..1, "x\u{2028}y"),
        ("a: 'b'\n", 1, 0..1, "x\u{2029}y"),
        ("?foo: safe\n", 0, 0..0, "\u{2028}"),
        // Inside flow collections `?` is an indicator to libyaml and go-yaml.
        ("- [ a, b ]\n", 0, 0..0, "?"),
        ("- {a: b}\n", 1, 1..1, "?c"),
        ("- {a: b}\n", 1, 1..1, ":?c"),
        // A quoted scalar before a blank line with a tab: libyaml would take the tab for
        // indentation.
        ("foo: 1\n \t\nbar: 2\n", 1, 0..1, "{1"),
        // A tab where a block scalar's indentation is still being detected.
        ("--- |\n literal\n \ttext\n", 0, 0..0, "\t"),
    ];
    let mut checked = 0;
    for (text, ordinal, range, with) in cases {
        let parsed = parse(text).expect("case parses");
        let before = libyaml_events(text).expect("libyaml reads the original");
        assert!(
            agrees(&before, &parsed),
            "{text:?}: parsers disagree already"
        );
        let scalar = parsed.scalars()[*ordinal].clone();
        let edit = ScalarEdit {
            ordinal: scalar.ordinal,
            range: range.clone(),
            replacement: with.to_string(),
            inner: None,
        };
        let Ok(planned) = plan(text, &parsed, std::slice::from_ref(&edit)) else {
            continue;
        };
        let want = BTreeMap::from([(scalar.ordinal, planned_value(&scalar.value, &[&edit]))]);
        check_oracle(&before, &parsed, &want, &planned.text)
            .unwrap_or_else(|e| panic!("{text:?} -> {:?}: {e}", planned.text));
        checked += 1;
    }
    assert!(
        checked >= 5,
        "only {checked} of the pitfalls were written at all"
    );
}
