//! The template language: text and actions, control structures, variables, definitions,
//! `include`/`tpl`, errors and limits, each asserted against what Go's `text/template` gives.

use serde_json::{Value, json};

use super::{TemplateError, Templates};

mod chart;
mod functions;

/// Renders `text` as template "t.yaml" with `dot`.
fn try_render(text: &str, dot: &Value) -> Result<String, TemplateError> {
    let mut set = Templates::new();
    set.add("t.yaml", text)?;
    set.render("t.yaml", dot)
}

fn render(text: &str, dot: &Value) -> String {
    try_render(text, dot).unwrap_or_else(|e| panic!("{text:?}: {e}"))
}

fn r(text: &str) -> String {
    render(text, &json!({}))
}

fn err(text: &str, dot: &Value) -> TemplateError {
    match try_render(text, dot) {
        Ok(out) => panic!("{text:?} rendered {out:?}"),
        Err(e) => e,
    }
}

#[test]
fn trim_markers_and_comments() {
    assert_eq!(r("a  {{- 1 -}}  \n b"), "a1b");
    assert_eq!(r("a\n\n{{- /* gone */ -}}\n\nb"), "ab");
    assert_eq!(r("a {{/* multi\nline */}} b"), "a  b");
    assert_eq!(r("x{{- 3}} {{-3}}"), "x3 -3");
    assert_eq!(r("{{ 1 }}\n{{- 2 }}\n  {{- 3 -}}\n"), "123");
    let e = err("line\n{{/* open }}", &json!({}));
    assert_eq!((e.line, e.message.as_str()), (2, "unclosed comment"));
}

#[test]
fn if_else_if_else() {
    let t = "{{ if eq .n 1 }}one{{ else if eq .n 2 }}two{{ else if gt .n 2 }}many{{ else }}none{{ end }}";
    let out: Vec<String> = [1, 2, 5, 0]
        .iter()
        .map(|n| render(t, &json!({ "n": n })))
        .collect();
    assert_eq!(out, ["one", "two", "many", "none"]);
    assert_eq!(
        r(r#"{{ if and 1 "" }}y{{ else }}n{{ end }}{{ if or 0 "x" }}y{{ end }}"#),
        "ny"
    );
    assert_eq!(
        r(r#"{{ and 1 "a" 2 }} {{ or 0 "" "b" }} {{ or 0 false }} {{ not 0 }}"#),
        "2 b false true"
    );
    // `and` stops at the first false argument: the failing call is never made.
    assert_eq!(
        r(r#"{{ if and false (fail "not evaluated") }}y{{ else }}n{{ end }}"#),
        "n"
    );
}

#[test]
fn with_else() {
    let t = "{{ with .a }}[{{ .b }}]{{ else with .c }}c={{ . }}{{ else }}none{{ end }}";
    assert_eq!(render(t, &json!({ "a": { "b": "x" } })), "[x]");
    assert_eq!(render(t, &json!({ "a": {}, "c": 3 })), "c=3");
    assert_eq!(render(t, &json!({})), "none");
    assert_eq!(
        render("{{ with $v := .a }}{{ $v }}{{ end }}", &json!({ "a": 1.5 })),
        "1.5"
    );
}

#[test]
fn range_over_lists_maps_and_numbers() {
    let dot = json!({ "l": ["a", "b", "c"], "m": { "z": 1, "a": 2 }, "e": [] });
    assert_eq!(
        render("{{ range $i, $v := .l }}{{ $i }}={{ $v }} {{ end }}", &dot),
        "0=a 1=b 2=c "
    );
    assert_eq!(render("{{ range .l }}{{ . }}{{ end }}", &dot), "abc");
    assert_eq!(
        render("{{ range $k, $v := .m }}{{ $k }}:{{ $v }},{{ end }}", &dot),
        "a:2,z:1,"
    );
    assert_eq!(render("{{ range $v := .m }}{{ $v }}{{ end }}", &dot), "21");
    assert_eq!(
        render(
            "{{ range $i := 3 }}{{ $i }}{{ end }}|{{ range 0 }}x{{ end }}",
            &dot
        ),
        "012|"
    );
    assert_eq!(
        render("{{ range .e }}x{{ else }}empty{{ end }}", &dot),
        "empty"
    );
    assert_eq!(
        render("{{ range .missing }}x{{ else }}none{{ end }}", &dot),
        "none"
    );
    let t = "{{ range $i, $v := .l }}{{ if eq $v \"b\" }}{{ continue }}{{ end }}{{ if eq $i 2 }}{{ break }}{{ end }}{{ $v }}{{ end }}";
    assert_eq!(render(t, &dot), "a");
    let t = "{{ range .l }}{{ range $.l }}{{ if eq . \"b\" }}{{ break }}{{ end }}{{ . }}{{ end }};{{ end }}";
    assert_eq!(render(t, &dot), "a;a;a;");
    let e = err("{{ if true }}\n{{ break }}{{ end }}", &dot);
    assert_eq!(
        (e.line, e.message.as_str()),
        (2, "{{break}} outside {{range}}")
    );
}

#[test]
fn variables_and_scoping() {
    assert_eq!(
        r("{{ $x := 1 }}{{ if true }}{{ $x = 2 }}{{ $y := 3 }}{{ $y }}{{ end }}{{ $x }}"),
        "32"
    );
    assert_eq!(
        r("{{ $x := \"out\" }}{{ range until 2 }}{{ $x := . }}{{ $x }}{{ end }}{{ $x }}"),
        "01out"
    );
    assert_eq!(
        render(
            "{{ $.a }}{{ with .b }}{{ $.a }}{{ . }}{{ end }}",
            &json!({ "a": "A", "b": "B" })
        ),
        "AAB"
    );
    // A variable declared inside `if` is gone after its `end`, and Go rejects its use when parsing.
    let e = err("{{ if true }}{{ $x := 1 }}{{ end }}\n{{ $x }}", &json!({}));
    assert_eq!(
        e,
        TemplateError {
            template: "t.yaml".into(),
            line: 2,
            message: "undefined variable \"$x\"".into()
        }
    );
    let e = err("{{ $y = 1 }}", &json!({}));
    assert_eq!(e.message, "undefined variable \"$y\"");
}

#[test]
fn fields_on_maps_nil_and_parenthesized_results() {
    let dot = json!({ "a": { "b": { "c": "deep" } }, "l": [{ "name": "first" }] });
    assert_eq!(
        render("{{ .a.b.c }}|{{ .a.x.y.z }}|{{ .nope }}", &dot),
        "deep||"
    );
    assert_eq!(
        render("{{ (index .l 0).name }} {{ $m := .a }}{{ $m.b.c }}", &dot),
        "first deep"
    );
    assert_eq!(
        render("{{ index .a \"b\" \"c\" }}{{ index .a \"none\" }}", &dot),
        "deep"
    );
    let e = err("{{ .a.b.c.d }}", &dot);
    assert_eq!(e.message, "can't evaluate field d in type string");
}

#[test]
fn printing_values_like_go() {
    let dot = json!({ "i": 8080, "f": 1.5, "big": 1000000.0, "whole": 3.0, "l": [1, "a", null], "m": { "b": true, "a": [] } });
    assert_eq!(
        render("{{ .i }} {{ .f }} {{ .big }} {{ .whole }}", &dot),
        "8080 1.5 1e+06 3"
    );
    assert_eq!(
        render("{{ .l }} {{ .m }} {{ .missing }}", &dot),
        "[1 a <nil>] map[a:[] b:true] "
    );
    assert_eq!(
        r(
            "{{ 0x1F }} {{ 1_000 }} {{ 'a' }} {{ 1e3 }} {{ -2.50 }} {{ `raw\\n` }} {{ \"tab\\tq\\\"\" }}"
        ),
        "31 1000 97 1000 -2.5 raw\\n tab\tq\""
    );
    assert_eq!(
        r("{{ print 1 2 \"a\" \"b\" 3 }}|{{ println 1 \"a\" }}|{{ print nil }}"),
        "1 2ab3|1 a\n|<nil>"
    );
}

#[test]
fn define_include_and_nindent() {
    let mut set = Templates::new();
    set.add(
        "c/templates/_helpers.tpl",
        r#"{{- define "c.labels" -}}
app: {{ .name }}
{{ include "c.extra" . }}
{{- end }}
{{- define "c.extra" -}}
tier: {{ .tier | default "web" }}
{{- end }}"#,
    )
    .unwrap();
    set.add(
        "c/templates/cm.yaml",
        "metadata:\n  labels:\n    {{- include \"c.labels\" .Values | nindent 4 }}\n",
    )
    .unwrap();
    let out = set
        .render(
            "c/templates/cm.yaml",
            &json!({ "Values": { "name": "api" } }),
        )
        .unwrap();
    assert_eq!(out, "metadata:\n  labels:\n    app: api\n    tier: web\n");
    // `template` writes directly; `block` defines and runs in one go.
    set.add(
        "c/templates/b.yaml",
        r#"{{ template "c.extra" (dict "tier" "db") }} {{ block "c.b" . }}default{{ end }}"#,
    )
    .unwrap();
    assert_eq!(
        set.render("c/templates/b.yaml", &json!({})).unwrap(),
        "tier: db default"
    );
    // A later definition replaces an earlier one; the empty body of a helpers file does not
    // replace a template.
    set.add(
        "c/templates/z.tpl",
        r#"{{ define "c.extra" }}tier: replaced{{ end }}"#,
    )
    .unwrap();
    assert_eq!(
        set.render("c/templates/b.yaml", &json!({})).unwrap(),
        "tier: replaced default"
    );
}

#[test]
fn tpl_sees_definitions() {
    let mut set = Templates::new();
    set.add(
        "c/templates/_h.tpl",
        r#"{{ define "c.name" }}{{ .Release.Name }}-app{{ end }}"#,
    )
    .unwrap();
    set.add("c/templates/t.yaml", "host: {{ tpl .Values.host . }}\n{{ tpl \"{{ define \\\"x\\\" }}X{{ end }}{{ include \\\"x\\\" . }}\" . }}").unwrap();
    let dot = json!({ "Release": { "Name": "rel" }, "Values": { "host": "{{ include \"c.name\" . }}.{{ .Values.domain | default \"example.com\" }}" } });
    assert_eq!(
        set.render("c/templates/t.yaml", &dot).unwrap(),
        "host: rel-app.example.com\nX"
    );
    let dot = json!({ "Values": { "host": "\n{{ fail \"boom\" }}" } });
    let e = set.render("c/templates/t.yaml", &dot).unwrap_err();
    assert_eq!(
        e.to_string(),
        "c/templates/t.yaml:1: error calling tpl: line 2 of the template text: boom"
    );
}

#[test]
fn required_and_fail_name_template_and_line() {
    let mut set = Templates::new();
    set.add(
        "c/templates/_h.tpl",
        "{{ define \"c.need\" }}\n{{ required \"image.tag is required\" .tag }}{{ end }}",
    )
    .unwrap();
    set.add(
        "c/templates/d.yaml",
        "a: 1\nb: {{ include \"c.need\" .Values }}\nc: {{ fail \"stop here\" }}",
    )
    .unwrap();
    let e = set
        .render("c/templates/d.yaml", &json!({ "Values": {} }))
        .unwrap_err();
    assert_eq!(e.to_string(), "c/templates/_h.tpl:2: image.tag is required");
    let e = set
        .render("c/templates/d.yaml", &json!({ "Values": { "tag": "" } }))
        .unwrap_err();
    assert_eq!(e.line, 2);
    let e = set
        .render("c/templates/d.yaml", &json!({ "Values": { "tag": "v1" } }))
        .unwrap_err();
    assert_eq!(
        e,
        TemplateError {
            template: "c/templates/d.yaml".into(),
            line: 3,
            message: "stop here".into()
        }
    );
    assert_eq!(r("{{ required \"x\" 0 }}"), "0");
}

#[test]
fn parse_errors_name_file_and_line() {
    let mut set = Templates::new();
    let e = set
        .add("c/templates/bad.yaml", "a: 1\nb: {{ .Values.x\n\n")
        .unwrap_err();
    assert_eq!(
        e,
        TemplateError {
            template: "c/templates/bad.yaml".into(),
            line: 2,
            message: "unclosed action".into()
        }
    );
    let e = set
        .add("c/templates/fn.yaml", "a: 1\n\nb: {{ .x | frobnicate }}\n")
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "c/templates/fn.yaml:3: function \"frobnicate\" not defined"
    );
    let e = set.add("x", "{{ if .a }}\nno end\n").unwrap_err();
    assert_eq!(e.message, "unexpected EOF: {{if}} at line 1 has no {{end}}");
    assert_eq!(
        set.add("x", "{{ end }}").unwrap_err().message,
        "unexpected {{end}}"
    );
    assert_eq!(
        set.add("x", "{{ \"a\"\"b\" }}").unwrap_err().message,
        "unexpected \"b\" in operand"
    );
    assert_eq!(
        set.add("x", "{{ nil }}").unwrap_err().message,
        "nil is not a command"
    );
    assert_eq!(
        set.add("x", "{{ .a | 3 }}").unwrap_err().message,
        "non executable command in pipeline stage 2"
    );
    assert_eq!(
        set.add("x", "{{ (1 }}").unwrap_err().message,
        "unclosed left paren"
    );
    assert_eq!(
        set.add("x", "{{ 1 ) }}").unwrap_err().message,
        "unexpected right paren"
    );
    assert!(
        set.add("x", "{{ 12ab }}")
            .unwrap_err()
            .message
            .starts_with("bad number syntax")
    );
    assert!(
        set.render("c/templates/bad.yaml", &json!({})).is_err(),
        "a failed add adds nothing"
    );
}

#[test]
fn pathological_templates_fail_cleanly() {
    let deep_parens = format!("{{{{ {}1{} }}}}", "(".repeat(500), ")".repeat(500));
    assert!(
        err(&deep_parens, &json!({}))
            .message
            .contains("nested too deeply")
    );
    let deep_ifs = format!(
        "{}x{}",
        "{{ if true }}".repeat(300),
        "{{ end }}".repeat(300)
    );
    assert!(
        err(&deep_ifs, &json!({}))
            .message
            .contains("nested too deeply")
    );
    let ok = format!(
        "{}x{}",
        "{{ if true }}{{ with 1 }}".repeat(40),
        "{{ end }}{{ end }}".repeat(40)
    );
    assert_eq!(r(&ok), "x");
    let e = err(
        r#"{{ define "loop" }}{{ include "loop" . }}{{ end }}{{ include "loop" . }}"#,
        &json!({}),
    );
    assert!(e.message.contains("more than 100 levels deep"), "{e}");
    let e = err(
        r#"{{ define "t" }}{{ template "t" . }}{{ end }}{{ template "t" . }}"#,
        &json!({}),
    );
    assert!(e.message.contains("levels deep"), "{e}");
    // Values nested thousands deep, and cycles, neither overflow the stack nor hang.
    let t = "{{ $d := dict }}{{ range until 20000 }}{{ $d = dict \"a\" $d }}{{ end }}{{ $x := toJson $d }}ok";
    assert!(err(t, &json!({})).message.contains("nested more than"));
    assert_eq!(
        r("{{ $d := dict }}{{ range until 20000 }}{{ $d = dict \"a\" $d }}{{ end }}ok"),
        "ok"
    );
    assert!(r("{{ $d := dict }}{{ $_ := set $d \"self\" $d }}{{ $d }}").contains("map[self:...]"));
    let e = err(
        "{{ $d := dict }}{{ $_ := set $d \"self\" $d }}{{ toYaml $d }}",
        &json!({}),
    );
    assert!(e.message.contains("nested more than"), "{e}");
    assert_eq!(
        r(
            r#"{{ $d := dict "a" 1 }}{{ $_ := merge $d $d }}{{ $_ := mergeOverwrite $d (dict "b" $d) }}{{ len $d }}"#
        ),
        "2"
    );
    let doubling =
        "{{ $s := \"ab\" }}{{ range until 40 }}{{ $s = printf \"%s%s\" $s $s }}{{ end }}";
    assert!(err(doubling, &json!({})).message.contains("longer than"));
    let doubling = "{{ $l := list 1 }}{{ range until 40 }}{{ $l = concat $l $l }}{{ end }}";
    assert!(err(doubling, &json!({})).message.contains("longer than"));
    let e = err("{{ range 100000000000 }}{{ end }}", &json!({}));
    assert_eq!(e.message, "more than 10000000 range iterations");
    assert!(
        err("{{ repeat 100000000 \"abc\" }}", &json!({}))
            .message
            .contains("longer than")
    );
    assert!(
        err("{{ range until 100000000 }}{{ end }}", &json!({}))
            .message
            .contains("more than")
    );
    for junk in [
        "{{",
        "{{-",
        "}}{{",
        "{{ \"",
        "{{ '",
        "{{ `",
        "{{ 'ab' }}",
        "{{ $ }}",
        "{{ . . }}",
        "{{ .a.b( }}",
        "{{ 0x }}",
        "{{ 1e }}",
        "{{ - }}",
        "{{ else if }}",
        "{{ range $a, $b, $c := . }}{{ end }}",
        "{{ $x := }}",
        "{{ template }}",
        "{{ define \"a\" }}{{ define \"b\" }}{{ end }}{{ end }}",
        "\u{1F600}{{ \"\\u{zz}\" }}",
        "{{ \"\\400\" }}",
        "{{ index }}",
        "{{ slice \"héllo\" 1 2 }}",
        "{{ trunc 1 \"é\" }}",
    ] {
        let _ = try_render(junk, &json!({ "a": [1] }));
    }
}

#[test]
fn missing_templates_and_sharing_across_threads() {
    let mut set = Templates::new();
    set.add("a.yaml", "{{ include \"nope\" . }}").unwrap();
    set.add("b.yaml", "x\n{{ template \"nope\" }}").unwrap();
    let e = set.render("a.yaml", &json!({})).unwrap_err();
    assert_eq!(
        e.to_string(),
        "a.yaml:1: error calling include: no template named \"nope\""
    );
    let e = set.render("b.yaml", &json!({})).unwrap_err();
    assert_eq!(e.to_string(), "b.yaml:2: no template named \"nope\"");
    let e = set.render("c.yaml", &json!({})).unwrap_err();
    assert_eq!(e.to_string(), "c.yaml:0: no template named \"c.yaml\"");
    fn shared<T: Send + Sync>(_: &T) {}
    shared(&set);
    let rendered = std::thread::scope(|s| {
        let handles: Vec<_> = (0..2)
            .map(|i| {
                s.spawn({
                    let set = &set;
                    move || set.render("b.yaml", &json!({ "i": i }))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().is_ok())
            .collect::<Vec<_>>()
    });
    assert_eq!(rendered, [true, true]);
}

/// Templates assembled at random from plausible pieces: each parses and renders, or reports an
/// error; none panics. (The same generator ran for millions of cases while this was written.)
#[test]
fn random_templates_never_panic() {
    let operands = [
        ".",
        ".a",
        ".b.c",
        "$",
        "$.a",
        "$x",
        "\"s\"",
        "`r`",
        "'c'",
        "1",
        "-2",
        "0x1f",
        "1.5e3",
        "nil",
        "true",
        "100000",
        "(list 1 \"a\")",
        "(dict \"k\" .a)",
        "(index .a 1)",
        "(.Files.Glob \"*\")",
        "\"%s%d%v%q%x%5.2f%!\"",
        "\"[\"",
        "\"(a+\"",
        "\">=1.2 || <1\"",
        "\"a: [1\"",
        "(toYaml .)",
    ];
    let functions = [
        "include \"d\"",
        "tpl",
        "printf",
        "index",
        "slice",
        "len",
        "toYaml",
        "fromYaml",
        "toJson",
        "fromJson",
        "dict",
        "list",
        "set",
        "unset",
        "merge",
        "mergeOverwrite",
        "default",
        "required",
        "quote",
        "trunc",
        "substr",
        "nindent",
        "repeat",
        "until",
        "seq",
        "semverCompare",
        "regexReplaceAll",
        "regexSplit",
        "split",
        "join",
        "keys",
        "deepCopy",
        "and",
        "or",
        "not",
        "eq",
        "lt",
        "wrapWith",
        "abbrevboth",
        "date",
        "round",
        "div",
        "mod",
        "b32dec",
        "dig",
        "append",
        "concat",
        "uniq",
        "pluck",
        "omit",
        "replace",
        "snakecase",
        "js",
        "print",
        "fromYamlArray",
        "divf",
        "untilStep",
        "chunk",
        ".Files.Get",
        ".Cap.Has",
        ".Files.Lines",
        "semver",
        "atoi",
    ];
    let dot = json!({ "a": [1, { "b": "x" }], "b": { "c": null }, "Files": { "$files": { "f": "x\ny" } }, "Cap": ["v1"] });
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    for _ in 0..20_000 {
        let mut t = String::from("{{ $x := 1 }}");
        for _ in 0..1 + next(12) {
            let mut expr = String::new();
            if next(3) > 0 {
                expr.push_str(functions[next(functions.len())]);
            }
            for _ in 0..next(4) {
                expr.push(' ');
                expr.push_str(operands[next(operands.len())]);
            }
            if next(4) == 0 {
                expr.push_str(" | ");
                expr.push_str(functions[next(functions.len())]);
            }
            if expr.trim().is_empty() {
                expr.push('.');
            }
            t.push_str(&match next(14) {
                0 => format!("{{{{ if {expr} }}}}"),
                1 => format!("{{{{ range $i, $v := {expr} }}}}"),
                2 => format!("{{{{ with {expr} }}}}"),
                3 => "{{ else }}".to_owned(),
                4 | 5 => "{{ end }}".to_owned(),
                6 => "{{ break }}".to_owned(),
                7 => format!("{{{{ $x = {expr} }}}}"),
                8 => "x\n ".to_owned(),
                9 => format!("{{{{ tpl {:?} . }}}}", format!("{{{{ {expr} }}}}")),
                _ => format!("{{{{- {expr} -}}}}"),
            });
        }
        let outcome = std::panic::catch_unwind(|| {
            let mut set = Templates::new();
            set.add(
                "d",
                r#"{{ define "d" }}{{ .a }}{{ include "d" .b }}{{ end }}"#,
            )?;
            set.add("t", &t)?;
            set.render("t", &dot)
        });
        assert!(outcome.is_ok(), "panicked on {t:?}");
    }
}
