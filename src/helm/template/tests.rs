//! The template language and its functions, each asserted against the exact output Go's
//! `text/template` with Helm's functions gives.

use serde_json::{Value, json};

use super::{TemplateError, Templates};

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
fn default_uses_sprigs_idea_of_empty() {
    let dot = json!({ "zero": 0, "empty": "", "no": false, "nil": null, "list": [], "map": {}, "set": "v", "f": 0.0 });
    let t = "{{ .zero | default 7 }} {{ .empty | default \"d\" }} {{ .no | default true }} {{ .nil | default \"n\" }} {{ .list | default \"l\" }} {{ .map | default \"m\" }} {{ .f | default 2 }} {{ .missing | default \"x\" }} {{ .set | default \"unused\" }}";
    assert_eq!(render(t, &dot), "7 d true n l m 2 x v");
    assert_eq!(
        render(
            "{{ empty .zero }} {{ empty .set }} {{ coalesce .nil .empty .set }} {{ ternary \"y\" \"n\" .no }}",
            &dot
        ),
        "true false v n"
    );
}

#[test]
fn quote_and_squote() {
    assert_eq!(
        render(
            "[{{ quote .missing }}] {{ quote 5 }} {{ quote 1.5 true }} {{ .s | quote }} {{ squote .s }}",
            &json!({ "s": "a\"b\n" })
        ),
        "[] \"5\" \"1.5\" \"true\" \"a\\\"b\\n\" 'a\"b\n'"
    );
}

#[test]
fn to_yaml_into_nindent() {
    let dot = json!({ "resources": { "limits": { "cpu": "100m", "memory": "128Mi" }, "requests": {} }, "tolerations": [{ "key": "a", "operator": "Exists" }], "args": ["--x", "8080", "yes", "", "a: b", "- x"] });
    let t = "spec:\n  containers:\n    - resources:\n        {{- toYaml .resources | nindent 8 }}\n      tolerations:\n        {{- toYaml .tolerations | nindent 8 }}\n      args: {{- toYaml .args | nindent 8 }}\n";
    let want = "spec:\n  containers:\n    - resources:\n        limits:\n          cpu: 100m\n          memory: 128Mi\n        requests: {}\n      tolerations:\n        - key: a\n          operator: Exists\n      args:\n        - --x\n        - \"8080\"\n        - \"yes\"\n        - \"\"\n        - 'a: b'\n        - '- x'\n";
    assert_eq!(render(t, &dot), want);
}

#[test]
fn yaml_layout_matches_helm() {
    let dot = json!({
        "nested": { "list": [[1, 2], { "a": null, "b": 1.5 }], "empty": [] },
        "script": "#!/bin/sh\necho hi\n",
        "keep": "a\n\n",
        "lead": "  x\ny",
        "trail": "a \nb",
        "keys": { "item10": 1, "item9": 2, "Item": 3, "_x": 4, "8080": 5 },
        "big": 1e21, "int_float": 2.0, "small": 0.000001,
    });
    assert_eq!(
        render("{{ toYaml . }}", &dot),
        "big: 1e+21\nint_float: 2\nkeep: |+\n  a\n\nkeys:\n  _x: 4\n  \"8080\": 5\n  Item: 3\n  item9: 2\n  item10: 1\nlead: |2-\n    x\n  y\nnested:\n  empty: []\n  list:\n  - - 1\n    - 2\n  - a: null\n    b: 1.5\nscript: |\n  #!/bin/sh\n  echo hi\nsmall: 1e-06\ntrail: \"a \\nb\""
    );
    assert_eq!(
        r("{{ toYaml nil }}|{{ toYaml \"s\" }}|{{ toYaml (dict) }}|{{ toYaml list }}"),
        "null|s|{}|[]"
    );
    assert_eq!(
        r("{{ toYamlPretty (dict \"a\" (list 1 2)) }}"),
        "a:\n  - 1\n  - 2"
    );
    let long = format!("key: {}", "word ".repeat(20).trim_end());
    let out = render("{{ toYaml (dict \"k\" .s) }}", &json!({ "s": long }));
    assert_eq!(
        out,
        "k: 'key: word word word word word word word word word word word word word word word\n  word word word word word'"
    );
}

#[test]
fn set_dict_and_merge_are_visible_later() {
    let t = r#"{{ $d := dict "a" 1 }}{{ $_ := set $d "b" 2 }}{{ $alias := $d }}{{ $_ := set $alias "c" 3 }}{{ $d }} {{ $_ := unset $d "a" }}{{ keys $d }} {{ hasKey $d "c" }}"#;
    assert_eq!(r(t), "map[a:1 b:2 c:3] [b c] true");
    let dot = json!({ "Values": { "image": { "tag": "" , "repo": "r" }, "list": [{ "n": 1 }] } });
    assert_eq!(
        render(
            r#"{{ $_ := set .Values.image "tag" "v2" }}{{ .Values.image.tag }} {{ range .Values.list }}{{ $_ := set . "n" 9 }}{{ end }}{{ (first .Values.list).n }}"#,
            &dot
        ),
        "v2 9"
    );
    let t = r#"{{ $dst := dict "a" "keep" "b" "" "n" (dict "x" 1) }}{{ $_ := merge $dst (dict "a" "new" "b" "filled" "c" "added" "n" (dict "x" 2 "y" 3)) }}{{ $dst }}"#;
    assert_eq!(r(t), "map[a:keep b:filled c:added n:map[x:1 y:3]]");
    let t = r#"{{ $dst := dict "a" "old" "t" true "n" (dict "x" 1) }}{{ $_ := mergeOverwrite $dst (dict "a" "new" "t" false "n" (dict "x" 2)) }}{{ $dst }}"#;
    assert_eq!(r(t), "map[a:new n:map[x:2] t:false]");
    assert_eq!(
        r(
            r#"{{ $c := deepCopy (dict "a" (dict "b" 1)) }}{{ $o := $c }}{{ $c = deepCopy $o }}{{ $_ := set $c.a "b" 2 }}{{ $o.a.b }}{{ $c.a.b }}"#
        ),
        "12"
    );
}

#[test]
fn printf_verbs() {
    let dot = json!({ "a": "x", "b": "y", "n": 42, "f": 1.23456, "l": ["p", "q"] });
    assert_eq!(
        render(
            r#"{{ printf "%s:%s" .a .b }} {{ printf "%d|%5d|%-4d|%05d|%x" .n .n .n .n .n }}"#,
            &dot
        ),
        "x:y 42|   42|42  |00042|2a"
    );
    assert_eq!(
        render(r#"{{ printf "%v %v %v %q %q" .a .n .l .a .n }}"#, &dot),
        "x 42 [p q] \"x\" '*'"
    );
    assert_eq!(
        render(
            r#"{{ printf "%.2f %6.1f %e %g %t %T %%" .f .f .f .f true .l }}"#,
            &dot
        ),
        "1.23    1.2 1.234560e+00 1.23456 true []interface {} %"
    );
    assert_eq!(
        render(
            r#"{{ printf "%d %s %s" .a .n }} {{ printf "%s" .a .b }}"#,
            &dot
        ),
        "%!d(string=x) %!s(int=42) %!s(MISSING) x%!(EXTRA string=y)"
    );
    assert_eq!(
        render(
            r#"{{ printf "%s" .l }} {{ printf "%v" .missing }} {{ printf "%s" nil }} {{ printf "%.3g|%8.3s|" 1234.5 "abcdef" }}"#,
            &dot
        ),
        "[p q] <nil> %!s(<nil>) 1.23e+03|     abc|"
    );
}

#[test]
fn semver_compare() {
    let cases = [
        (">=1.21-0", "v1.30.0", true),
        (">=1.21-0", "v1.30.2-gke.1587003", true),
        (">=1.21", "v1.30.2-gke.1587003", false),
        ("<1.19", "1.30.0", false),
        ("^1.2", "1.9.0", true),
        ("^1.2", "2.0.0", false),
        ("~1.2", "1.2.9", true),
        ("~1.2", "1.3.0", false),
        ("1.x", "1.7.3", true),
        (">= 1.19, < 1.25", "1.24.1", true),
        (">=1.19 <1.22", "1.22.0", false),
        ("<1.16 || >=1.20", "1.27.0", true),
        ("1.2 - 1.4.5", "1.4.5", true),
        ("!=1.2.3", "1.2.3", false),
        (">1.20.x", "1.21.0", true),
        ("<=1.20.x", "1.20.9", true),
    ];
    for (constraint, version, want) in cases {
        let out = render(
            "{{ semverCompare .c .v }}",
            &json!({ "c": constraint, "v": version }),
        );
        assert_eq!(out, want.to_string(), "{constraint} against {version}");
    }
    assert_eq!(
        r(
            r#"{{ $v := semver "v1.30.2-gke.1+meta" }}{{ $v.Major }}.{{ $v.Minor }}.{{ $v.Patch }} {{ $v.Prerelease }} {{ $v.Metadata }}"#
        ),
        "1.30.2 gke.1 meta"
    );
    assert!(
        err(r#"{{ semverCompare ">=1" "not a version" }}"#, &json!({}))
            .message
            .contains("invalid semantic version")
    );
}

#[test]
fn capabilities_and_files_methods() {
    let dot = json!({
        "Capabilities": { "APIVersions": ["apps/v1", "batch/v1", "networking.k8s.io/v1/Ingress"] },
        "Files": { "$files": { "files/app.conf": "a=1\n", "files/b.conf": "b=2", "files/sub/c.txt": "c", "README.md": "hi" } },
    });
    let t = r#"{{ .Capabilities.APIVersions.Has "apps/v1" }} {{ .Capabilities.APIVersions.Has "policy/v1beta1" }} {{ if (.Capabilities.APIVersions.Has "batch/v1") }}cron{{ end }} {{ "batch/v1" | .Capabilities.APIVersions.Has }}"#;
    assert_eq!(render(t, &dot), "true false cron true");
    assert_eq!(
        render(
            r#"{{ .Files.Get "files/app.conf" }}|{{ .Files.Get "missing" }}|{{ .Files.GetBytes "README.md" | b64enc }}|{{ .Files.Lines "files/app.conf" }}"#,
            &dot
        ),
        "a=1\n||aGk=|[a=1]"
    );
    assert_eq!(
        render(
            r#"{{ range $path, $_ := .Files.Glob "files/*" }}{{ $path }};{{ end }}|{{ range $p, $_ := .Files.Glob "**.txt" }}{{ $p }}{{ end }}"#,
            &dot
        ),
        "files/app.conf;files/b.conf;|files/sub/c.txt"
    );
    assert_eq!(
        render(
            r#"{{ (.Files.Glob "files/*.conf").AsConfig | indent 2 }}"#,
            &dot
        ),
        "  app.conf: |\n    a=1\n  b.conf: b=2"
    );
    assert_eq!(
        render(r#"{{ (.Files.Glob "files/b.conf").AsSecrets }}"#, &dot),
        "b.conf: Yj0y"
    );
    let e = err("{{ .Files.Get }}", &dot);
    assert_eq!(
        e.message,
        "error calling Get: wrong number of args: want 1 got 0"
    );
}

#[test]
fn pipelines_with_default() {
    let dot = json!({ "Values": { "image": { "repository": "nginx", "tag": "" } }, "Chart": { "AppVersion": "1.25.3" } });
    assert_eq!(
        render(
            "{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}",
            &dot
        ),
        "nginx:1.25.3"
    );
    assert_eq!(
        render(
            "{{ .Values.image.repository | upper | printf \"%s-%s\" \"x\" | quote }}",
            &dot
        ),
        "\"x-NGINX\""
    );
    assert_eq!(
        render(
            "{{ (printf \"%s/%s\" \"a\" (.Values.image.repository | trunc 3)) | replace \"/\" \"_\" }}",
            &dot
        ),
        "a_ngi"
    );
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

const HELPERS: &str = r#"{{/*
Expand the name of the chart.
*/}}
{{- define "mychart.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Create a default fully qualified app name.
*/}}
{{- define "mychart.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "mychart.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "mychart.labels" -}}
helm.sh/chart: {{ include "mychart.chart" . }}
{{ include "mychart.selectorLabels" . }}
{{- if .Chart.AppVersion }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "mychart.selectorLabels" -}}
app.kubernetes.io/name: {{ include "mychart.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}
"#;

const DEPLOYMENT: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "mychart.fullname" . }}
  labels:
    {{- include "mychart.labels" . | nindent 4 }}
spec:
  {{- if not .Values.autoscaling.enabled }}
  replicas: {{ .Values.replicaCount }}
  {{- end }}
  selector:
    matchLabels:
      {{- include "mychart.selectorLabels" . | nindent 6 }}
  template:
    metadata:
      {{- with .Values.podAnnotations }}
      annotations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      labels:
        {{- include "mychart.selectorLabels" . | nindent 8 }}
    spec:
      containers:
        - name: {{ .Chart.Name }}
          image: "{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}"
          imagePullPolicy: {{ .Values.image.pullPolicy }}
          ports:
            - name: http
              containerPort: {{ .Values.service.port }}
          {{- with .Values.resources }}
          resources:
            {{- toYaml . | nindent 12 }}
          {{- end }}
"#;

#[test]
fn helm_create_chart_renders_exactly() {
    let mut set = Templates::new();
    set.add("mychart/templates/_helpers.tpl", HELPERS).unwrap();
    set.add("mychart/templates/deployment.yaml", DEPLOYMENT)
        .unwrap();
    let dot = json!({
        "Chart": { "Name": "mychart", "Version": "0.1.0+build.5", "AppVersion": "1.16.0" },
        "Release": { "Name": "prod", "Service": "Helm" },
        "Values": {
            "replicaCount": 2,
            "image": { "repository": "nginx", "pullPolicy": "IfNotPresent", "tag": "" },
            "nameOverride": "", "fullnameOverride": "",
            "podAnnotations": { "checksum/config": "abc" },
            "autoscaling": { "enabled": false },
            "service": { "port": 80 },
            "resources": { "limits": { "cpu": "100m" } },
        },
    });
    let want = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: prod-mychart
  labels:
    helm.sh/chart: mychart-0.1.0_build.5
    app.kubernetes.io/name: mychart
    app.kubernetes.io/instance: prod
    app.kubernetes.io/version: "1.16.0"
    app.kubernetes.io/managed-by: Helm
spec:
  replicas: 2
  selector:
    matchLabels:
      app.kubernetes.io/name: mychart
      app.kubernetes.io/instance: prod
  template:
    metadata:
      annotations:
        checksum/config: abc
      labels:
        app.kubernetes.io/name: mychart
        app.kubernetes.io/instance: prod
    spec:
      containers:
        - name: mychart
          image: "nginx:1.16.0"
          imagePullPolicy: IfNotPresent
          ports:
            - name: http
              containerPort: 80
          resources:
            limits:
              cpu: 100m
"#;
    assert_eq!(
        set.render("mychart/templates/deployment.yaml", &dot)
            .unwrap(),
        want
    );
    // A release name containing the chart name is used alone, cut to 63 characters without a
    // trailing "-".
    let mut dot = dot;
    dot["Release"]["Name"] = json!(format!("{}-mychart-{}", "x".repeat(55), "y"));
    let out = set
        .render("mychart/templates/deployment.yaml", &dot)
        .unwrap();
    assert!(
        out.contains(&format!("  name: {}-mychart\n", "x".repeat(55))),
        "{out}"
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
fn every_function_in_the_table_is_callable() {
    let mut names = super::funcs::names();
    let count = names.len();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), count, "a function is listed twice");
    for name in names {
        // Called with no arguments, a function answers or reports an error, but never panics
        // and is never "not defined".
        let out = try_render(&format!("{{{{ {name} }}}}"), &json!({}));
        if let Err(e) = out {
            assert!(!e.message.contains("not defined"), "{name}: {e}");
        }
    }
}

#[test]
fn string_functions() {
    let cases = [
        (
            r#"{{ trunc 5 "abcdefgh" }} {{ trunc -3 "abcdefgh" }} {{ trunc 20 "ab" }}"#,
            "abcde fgh ab",
        ),
        (
            r#"{{ abbrev 5 "hello world" }} {{ abbrevboth 5 10 "1234 5678 9123" }}"#,
            "he... ...5678...",
        ),
        (
            r#"{{ upper "aé" }} {{ lower "ABC" }} {{ title "hello wide-world" }} {{ untitle "Hello World" }}"#,
            "AÉ abc Hello Wide-World hello world",
        ),
        (
            r#"{{ trim "  x  " }}|{{ trimAll "$" "$$5.00$" }}|{{ trimPrefix "v" "v1.2" }}|{{ trimSuffix "-" "a-" }}"#,
            "x|5.00|1.2|a",
        ),
        (
            r#"{{ replace "a" "b" "banana" }} {{ contains "an" "banana" }} {{ hasPrefix "ba" "banana" }} {{ hasSuffix "x" "banana" }}"#,
            "bbnbnb true true false",
        ),
        (
            r#"{{ repeat 3 "ab" }} {{ substr 1 3 "hello" }} {{ substr 2 99 "hello" }} {{ nospace " a b\tc " }}"#,
            "ababab el llo abc",
        ),
        (
            r#"{{ snakecase "HTTPServer" }} {{ snakecase "Bld4Floor3rd" }} {{ kebabcase "FirstName" }} {{ camelcase "http_server" }}"#,
            "http_server bld4_floor_3rd first-name HttpServer",
        ),
        (
            r#"{{ cat "a" 1 nil "b" }} {{ indent 2 "x\ny" }}|{{ nindent 2 "x" }}"#,
            "a 1 b   x\n  y|\n  x",
        ),
        (
            r#"{{ initials "First Try" }} {{ swapcase "aBc" }} {{ plural "one" "many" 2 }} {{ wrap 5 "aaa bbb ccc" }}"#,
            "FT AbC many aaa\nbbb\nccc",
        ),
        (
            r#"{{ randAlphaNum 5 }} {{ randNumeric 3 }} {{ uuidv4 }}"#,
            "xxxxx 000 00000000-0000-4000-8000-000000000000",
        ),
        (
            r#"{{ toString 1.5 }} {{ toString nil }} {{ printf "%T" (toString 3) }}"#,
            "1.5 <nil> string",
        ),
        (
            r#"{{ html "<a href='x'>&</a>" }} {{ js "it's <b>" }} {{ urlquery "a b&c" }}"#,
            "&lt;a href=&#39;x&#39;&gt;&amp;&lt;/a&gt; it\\'s \\u003Cb\\u003E a+b%26c",
        ),
    ];
    for (t, want) in cases {
        assert_eq!(r(t), want, "{t}");
    }
}

#[test]
fn list_and_dict_functions() {
    let cases = [
        (
            r#"{{ list 1 "a" 2.5 }} {{ first (list 1 2) }} {{ last (list 1 2) }} {{ rest (list 1 2 3) }} {{ initial (list 1 2 3) }}"#,
            "[1 a 2.5] 1 2 [2 3] [1 2]",
        ),
        (
            r#"{{ append (list 1) 2 }} {{ prepend (list 1) 0 }} {{ concat (list 1) (list 2 3) }} {{ reverse (list 1 2 3) }}"#,
            "[1 2] [0 1] [1 2 3] [3 2 1]",
        ),
        (
            r#"{{ uniq (list 1 1 "a" "a" 2) }} {{ without (list 1 2 3 2) 2 }} {{ compact (list 0 "" "x" nil 1) }} {{ has 2 (list 1 2) }}"#,
            "[1 a 2] [1 3] [x 1] true",
        ),
        (
            r#"{{ until 3 }} {{ untilStep 0 10 4 }} {{ seq 3 }} {{ seq 5 -2 1 }} {{ chunk 2 (list 1 2 3) }}"#,
            "[0 1 2] [0 4 8] 1 2 3 5 3 1 [[1 2] [3]]",
        ),
        (
            r#"{{ join "," (list "a" 1 nil "b") }} {{ splitList "," "a,b" }} {{ split "." "a.b" }} {{ splitn "," 2 "a,b,c" }} {{ sortAlpha (list "b" "C" "a") }}"#,
            "a,1,b [a b] map[_0:a _1:b] map[_0:a _1:b,c] [C a b]",
        ),
        (
            r#"{{ (split "/" "x/y")._1 }} {{ toStrings (list 1 nil "b") }} {{ slice (list 1 2 3) 1 }} {{ slice "hello" 1 3 }}"#,
            "y [1 b] [2 3] el",
        ),
        (
            r#"{{ $d := dict "b" 2 "a" 1 }}{{ keys $d }} {{ values $d }} {{ get $d "a" }}[{{ get $d "z" }}] {{ pick $d "a" }} {{ omit $d "a" }}"#,
            "[a b] [1 2] 1[] map[a:1] map[b:2]",
        ),
        (
            r#"{{ dig "a" "b" "none" (dict "a" (dict "b" "found")) }} {{ dig "a" "x" "none" (dict "a" (dict)) }} {{ pluck "k" (dict "k" 1) (dict) (dict "k" 2) }}"#,
            "found none [1 2]",
        ),
        (
            r#"{{ len (list 1 2) }} {{ len "abc" }} {{ len (dict "a" 1) }} {{ index (list 1 2) 1 }} {{ index "abc" 0 }}"#,
            "2 3 1 2 97",
        ),
        (
            r#"{{ dict "k" }} {{ tuple 1 2 }} {{ empty (list) }} {{ kindOf (list) }} {{ typeOf (dict) }}"#,
            "map[k:] [1 2] true slice map[string]interface {}",
        ),
    ];
    for (t, want) in cases {
        assert_eq!(r(t), want, "{t}");
    }
    assert_eq!(
        err("{{ index (list 1) 5 }}", &json!({})).message,
        "error calling index: index out of range: 5"
    );
}

#[test]
fn numbers_and_conversions() {
    let dot = json!({ "i": 7, "f": 2.5, "s": "12", "port": 8080 });
    let cases = [
        (
            "{{ add 1 2 }} {{ add .i .f }} {{ sub 5 7 }} {{ mul 2 3 4 }} {{ div 7 2 }} {{ mod 7 2 }} {{ add1 .i }}",
            "3 9 -2 24 3 1 8",
        ),
        (
            "{{ max 1 9 3 }} {{ min 4 2 8 }} {{ maxf 1 2.5 }} {{ floor 2.7 }} {{ ceil 2.1 }} {{ round 2.567 2 }}",
            "9 2 2.5 2 3 2.57",
        ),
        (
            "{{ addf 0.1 0.2 }} {{ subf 1 0.9 }} {{ mulf 1.1 3 }} {{ divf 2 3 }} {{ add1f 0.5 }}",
            "0.3 0.1 3.3 0.6666666666666667 1.5",
        ),
        (
            "{{ int64 .s }} {{ int \"12.0\" }} {{ int \"x\" }} {{ atoi \"42\" }} {{ float64 \"1.5\" }} {{ int .f }} {{ toDecimal \"0777\" }}",
            "12 12 0 42 1.5 2 511",
        ),
        (
            "{{ kindOf .i }} {{ kindOf .f }} {{ kindOf .s }} {{ kindOf nil }} {{ kindIs \"int\" .port }} {{ typeIs \"float64\" .f }}",
            "int float64 string invalid true true",
        ),
        (
            "{{ eq .i 7 }} {{ eq .f 2.5 }} {{ eq 2 2.0 }} {{ eq .s \"x\" \"12\" }} {{ ne 1 2 }} {{ lt 1 1.5 }} {{ ge \"b\" \"a\" }}",
            "true true true true true true true",
        ),
        (
            "{{ deepEqual (list 1 (dict \"a\" 1)) (list 1 (dict \"a\" 1)) }} {{ deepEqual 1 1.0 }} {{ all 1 \"a\" }} {{ any 0 \"\" }}",
            "true false true false",
        ),
    ];
    for (t, want) in cases {
        assert_eq!(render(t, &dot), want, "{t}");
    }
    assert_eq!(
        err("{{ div 1 0 }}", &dot).message,
        "error calling div: integer divide by zero"
    );
    assert_eq!(
        err("{{ lt 1 \"a\" }}", &dot).message,
        "error calling lt: incompatible types for comparison"
    );
}

#[test]
fn encoding_regex_paths_and_time() {
    let cases = [
        (
            r#"{{ toJson (dict "b" (list 1 2.5 nil) "a" "<x&y>") }} {{ toRawJson (dict "a" "<x>") }}"#,
            r#"{"a":"\u003cx\u0026y\u003e","b":[1,2.5,null]} {"a":"<x>"}"#,
        ),
        (
            r#"{{ toPrettyJson (dict "a" (list 1)) }}"#,
            "{\n  \"a\": [\n    1\n  ]\n}",
        ),
        (
            r#"{{ (fromJson "{\"a\": {\"b\": 1}}").a.b }} {{ (fromJson "[").Error | empty | not }} {{ fromJsonArray "[1, \"x\"]" }}"#,
            "1 true [1 x]",
        ),
        (
            "{{ $v := fromYaml \"a: 1\\nb: [x, y]\\nc: yes\\nd: 012\\na: 2\" }}{{ $v.a }} {{ $v.b }} {{ $v.c }} {{ $v.d }} {{ fromYamlArray \"- 1\\n- 2\" }} {{ fromYaml \"\" }} {{ (fromYaml \"- x\").Error }}",
            "2 [x true] true 10 [1 2] map[] cannot unmarshal a non-map document into a map",
        ),
        (
            r#"{{ b64enc "hello" }} {{ b64dec "aGVsbG8=" }} {{ b32enc "hi" }} {{ b32dec "NBUQ====" }} {{ sha256sum "abc" | trunc 16 }} {{ adler32sum "abc" }}"#,
            "aGVsbG8= hello NBUQ==== hi ba7816bf8f01cfea 38600999",
        ),
        (
            r#"{{ regexMatch "^v[0-9]+$" "v12" }} {{ regexFind "[0-9]+" "ab12cd34" }} {{ regexFindAll "[0-9]" "a1b2c3" 2 }} {{ regexReplaceAll "(\\w+)@(\\w+)" "me@host" "${2}:$1" }}"#,
            "true 12 [1 2] host:me",
        ),
        (
            r#"{{ regexReplaceAllLiteral "a" "banana" "$1" }} {{ regexSplit "[,;]" "a,b;c" -1 }} {{ regexQuoteMeta "1.2+" }} {{ regexMatch "(" "x" }}"#,
            "b$1n$1n$1 [a b c] 1\\.2\\+ false",
        ),
        (
            r#"{{ base "a/b/c.tar.gz" }} {{ dir "a/b/c" }} {{ ext "c.tar.gz" }} {{ clean "a//b/../c/" }} {{ isAbs "/x" }}"#,
            "c.tar.gz a/b .gz a/c true",
        ),
        (
            r#"{{ now | date "2006-01-02T15:04:05Z07:00" }} {{ date "Mon Jan _2 2006 3PM" 1700000000 }} {{ htmlDate 86400 }} {{ duration 95 }} {{ now | unixEpoch }}"#,
            "1970-01-01T00:00:00Z Tue Nov 14 2023 10PM 1970-01-02 1m35s 0",
        ),
        (
            r#"{{ lookup "v1" "Secret" "ns" "name" }} {{ env "HOME" }}[] {{ (genCA "ca" 365).Cert | b64enc }}[]"#,
            "map[] [] []",
        ),
    ];
    for (t, want) in cases {
        assert_eq!(r(t), want, "{t}");
    }
}
