//! Helm's and sprig's functions, each asserted against the output Helm gives.

use serde_json::json;

use super::{err, r, render, try_render};

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
fn every_function_in_the_table_is_callable() {
    let mut names = crate::helm::template::funcs::names();
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
