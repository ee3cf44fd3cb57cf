//! Exact output of scalar edits in every YAML style and layout manifix meets in manifests.

use manifix::yaml::quote::resolves_to_string;
use manifix::yaml::splice::{plan, EditError, ScalarEdit};
use manifix::yaml::{parse, Style};

/// Replaces `old`, a substring of the decoded value of the first scalar that contains it,
/// with `new`, returning the planned text.
fn edit(text: &str, old: &str, new: &str) -> Result<String, EditError> {
    let parsed = parse(text).expect("test input parses");
    let scalar = parsed
        .scalars()
        .into_iter()
        .find(|s| s.value.contains(old))
        .unwrap_or_else(|| panic!("no scalar contains {old:?}"));
    let start = scalar.value.find(old).expect("found above");
    let planned = plan(
        text,
        &parsed,
        &[ScalarEdit {
            ordinal: scalar.ordinal,
            range: start..start + old.len(),
            replacement: new.into(),
            inner: None,
        }],
    )?;
    Ok(planned.text)
}

fn style_of(text: &str, value: &str) -> Style {
    let parsed = parse(text).expect("output parses");
    let found = parsed.scalars().into_iter().find(|s| s.value == value);
    found
        .unwrap_or_else(|| panic!("{value:?} not in {text}"))
        .style
}

#[test]
fn plain() {
    let out = edit("image: nginx:1.25 # pinned\n", "1.25", "1.27").unwrap();
    assert_eq!(out, "image: nginx:1.27 # pinned\n");
}

#[test]
fn plain_tag_of_digits_is_quoted() {
    let text = "images:\n  - name: app\n    newTag: latest\n";
    let out = edit(text, "latest", "1234567").unwrap();
    assert_eq!(out, "images:\n  - name: app\n    newTag: \"1234567\"\n");
    assert_eq!(style_of(&out, "1234567"), Style::DoubleQuoted);
    // Staying a string needs no quotes.
    let out = edit(text, "latest", "v1.2.3").unwrap();
    assert_eq!(out, "images:\n  - name: app\n    newTag: v1.2.3\n");
}

#[test]
fn plain_partial_edit_that_would_become_a_number_is_quoted() {
    let out = edit("tag: v123\n", "v", "").unwrap();
    assert_eq!(out, "tag: \"123\"\n");
    let out = edit("enabled: yes-please\n", "-please", "").unwrap();
    assert_eq!(out, "enabled: \"yes\"\n");
}

#[test]
fn plain_replacement_with_indicators_is_quoted() {
    let out = edit("note: hello # greet\n", "hello", "a: b").unwrap();
    assert_eq!(out, "note: \"a: b\" # greet\n");
    let out = edit("note: hello # greet\n", "hello", "x #y").unwrap();
    assert_eq!(out, "note: \"x #y\" # greet\n");
    let out = edit("note: hello\n", "hello", "- item").unwrap();
    assert_eq!(out, "note: \"- item\"\n");
    let out = edit("list: [a, hello]\n", "hello", "b, c").unwrap();
    assert_eq!(out, "list: [a, \"b, c\"]\n");
    let out = edit("note: hello\n", "hello", "ends:").unwrap();
    assert_eq!(out, "note: \"ends:\"\n");
}

#[test]
fn single_quoted() {
    let text = "msg: 'it''s 123456789012' # keep\n";
    let out = edit(text, "123456789012", "210987654321").unwrap();
    assert_eq!(out, "msg: 'it''s 210987654321' # keep\n");
    let out = edit(text, "it's", "they're").unwrap();
    assert_eq!(out, "msg: 'they''re 123456789012' # keep\n");
    // A tab cannot be written in single quotes without escapes: double quotes take over.
    let out = edit(text, "it's", "a\tb").unwrap();
    assert_eq!(out, "msg: \"a\\tb 123456789012\" # keep\n");
}

#[test]
fn double_quoted_with_escapes() {
    let text = "msg: \"tab\\there \\\"q\\\" 111\"\n";
    let out = edit(text, "111", "222").unwrap();
    assert_eq!(out, "msg: \"tab\\there \\\"q\\\" 222\"\n");
    let out = edit(text, "\"q\"", "say \"hi\"\\").unwrap();
    assert_eq!(out, "msg: \"tab\\there say \\\"hi\\\"\\\\ 111\"\n");
    let out = edit(text, "tab\t", "x").unwrap();
    assert_eq!(out, "msg: \"xhere \\\"q\\\" 111\"\n");
}

#[test]
fn literal_blocks_keep_their_chomping() {
    for header in ["|", "|-", "|+"] {
        let text = format!("script: {header}\n  echo 111\n  echo done\n\nnext: x\n");
        let out = edit(&text, "111", "222").unwrap();
        assert_eq!(
            out,
            format!("script: {header}\n  echo 222\n  echo done\n\nnext: x\n")
        );
    }
}

#[test]
fn folded_block_edit_within_a_line() {
    let text = "desc: >\n  first line 111\n  second line\n";
    let out = edit(text, "111", "222").unwrap();
    assert_eq!(out, "desc: >\n  first line 222\n  second line\n");
    // Joining the lines would change the block's line structure: refused, file untouched.
    let err = edit(text, "111 second", "joined").unwrap_err();
    assert!(matches!(err, EditError::Unmappable { .. }), "{err}");
}

#[test]
fn flow_collections() {
    let text = "a: [x, 'y', \"z\"]\nb: {k: v, n: 1}\n";
    assert_eq!(
        edit(text, "y", "why").unwrap(),
        "a: [x, 'why', \"z\"]\nb: {k: v, n: 1}\n"
    );
    assert_eq!(
        edit(text, "v", "vee").unwrap(),
        "a: [x, 'y', \"z\"]\nb: {k: vee, n: 1}\n"
    );
    assert_eq!(
        edit(text, "x", "7").unwrap(),
        "a: [\"7\", 'y', \"z\"]\nb: {k: v, n: 1}\n"
    );
}

#[test]
fn multi_document_files() {
    let text = "a: one\n---\na: two\n...\n---\na: three\n";
    assert_eq!(
        edit(text, "two", "deux").unwrap(),
        "a: one\n---\na: deux\n...\n---\na: three\n"
    );
}

#[test]
fn crlf_line_endings() {
    let text = "a: one\r\nb: |\r\n  keep 111\r\n  line\r\nc: 'x'\r\n";
    assert_eq!(
        edit(text, "111", "222").unwrap(),
        "a: one\r\nb: |\r\n  keep 222\r\n  line\r\nc: 'x'\r\n"
    );
    assert_eq!(
        edit(text, "one", "1").unwrap(),
        "a: \"1\"\r\nb: |\r\n  keep 111\r\n  line\r\nc: 'x'\r\n"
    );
}

#[test]
fn byte_order_mark_and_no_final_newline() {
    let text = "\u{feff}image: app:old";
    assert_eq!(edit(text, "old", "new").unwrap(), "\u{feff}image: app:new");
    assert_eq!(edit("k: 'v'", "v", "w").unwrap(), "k: 'w'");
}

#[test]
fn comments_next_to_the_scalar_are_untouched() {
    let text = "# head\nimage: nginx:1.25 #tail\n# foot\n";
    assert_eq!(
        edit(text, "nginx:1.25", "nginx@sha256:abc").unwrap(),
        "# head\nimage: nginx@sha256:abc #tail\n# foot\n"
    );
}

#[test]
fn anchors_and_aliases() {
    let text = "base: &img nginx:1.25\nother: *img\ntagged: &t !!str 123\n";
    assert_eq!(
        edit(text, "nginx:1.25", "nginx:1.27").unwrap(),
        "base: &img nginx:1.27\nother: *img\ntagged: &t !!str 123\n"
    );
    // An explicit `!!str` tag keeps a digits-only value a string: no quotes needed.
    assert_eq!(
        edit(text, "123", "456").unwrap(),
        "base: &img nginx:1.25\nother: *img\ntagged: &t !!str 456\n"
    );
}

#[test]
fn multi_line_flow_scalars_are_rewritten_whole_when_needed() {
    let text = "k: first\n  second\nn: 1\n";
    assert_eq!(edit(text, "first second", "one").unwrap(), "k: one\nn: 1\n");
    assert_eq!(
        edit(text, "second", "2nd").unwrap(),
        "k: first\n  2nd\nn: 1\n"
    );
}

#[test]
fn kustomize_inline_patch_through_inner() {
    let text = "\
patches:
  - target:
      kind: ServiceAccount
    patch: |-
      - op: replace
        path: /metadata/annotations/eks.amazonaws.com~1role-arn
        value: \"arn:aws:iam::123456789012:role/x\"
";
    let parsed = parse(text).unwrap();
    let outer = parsed
        .scalars()
        .into_iter()
        .find(|s| s.style == Style::Literal)
        .unwrap();
    let inner_parsed = parse(&outer.value).unwrap();
    let arn = inner_parsed
        .scalars()
        .into_iter()
        .find(|s| s.value.starts_with("arn:"))
        .unwrap();
    let at = arn.value.find("123456789012").unwrap();
    let inner = ScalarEdit {
        ordinal: arn.ordinal,
        range: at..at + 12,
        replacement: "210987654321".into(),
        inner: None,
    };
    // The outer edit is the same change, expressed in the block scalar's decoded value.
    let outer_at = outer.value.find("123456789012").unwrap();
    let edit = ScalarEdit {
        ordinal: outer.ordinal,
        range: outer_at..outer_at + 12,
        replacement: "210987654321".into(),
        inner: Some(Box::new(inner.clone())),
    };
    let planned = plan(text, &parsed, std::slice::from_ref(&edit)).unwrap();
    assert_eq!(planned.text, text.replace("123456789012", "210987654321"));

    // An inner edit that does not match the outer one is refused.
    let mut wrong = edit;
    wrong.inner = Some(Box::new(ScalarEdit {
        replacement: "999999999999".into(),
        ..inner
    }));
    assert!(plan(text, &parsed, &[wrong]).is_err());
}

#[test]
fn overlapping_and_out_of_range_edits_are_refused() {
    let text = "k: abcdef\n";
    let parsed = parse(text).unwrap();
    let e = |range: std::ops::Range<usize>| ScalarEdit {
        ordinal: 1,
        range,
        replacement: "x".into(),
        inner: None,
    };
    assert!(matches!(
        plan(text, &parsed, &[e(0..3), e(2..4)]),
        Err(EditError::Overlap(_))
    ));
    assert!(matches!(
        plan(text, &parsed, &[e(0..30)]),
        Err(EditError::OutOfRange { .. })
    ));
    assert!(matches!(
        plan(
            text,
            &parsed,
            &[e(0..1)].map(|mut x| {
                x.ordinal = 9;
                x
            })
        ),
        Err(EditError::NoSuchScalar(9))
    ));
    let two = plan(text, &parsed, &[e(0..1), e(4..6)]).unwrap();
    assert_eq!(two.text, "k: xbcdx\n");
}

#[test]
fn empty_values_are_refused_not_guessed() {
    let text = "a:\nb: 1\n";
    let parsed = parse(text).unwrap();
    let empty = parsed.scalars()[1];
    assert_eq!(empty.value, "");
    let err = plan(
        text,
        &parsed,
        &[ScalarEdit {
            ordinal: empty.ordinal,
            range: 0..0,
            replacement: "x".into(),
            inner: None,
        }],
    )
    .unwrap_err();
    assert!(matches!(err, EditError::Unmappable { .. }), "{err}");
}

#[test]
fn type_resolution() {
    for v in [
        "123", "0x1F", "1e3", "-1.5", ".inf", "true", "no", "~", "null", "", "12:30",
    ] {
        assert!(!resolves_to_string(v), "{v:?} should not be a string");
    }
    for v in ["v1", "latest", "1.2.3-alpha", "nginx", "e5", "-"] {
        assert!(resolves_to_string(v), "{v:?} should be a string");
    }
}
