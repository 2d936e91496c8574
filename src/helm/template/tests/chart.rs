//! Chart-shaped templates: a `helm create` chart's helpers and deployment, `.Files`,
//! `.Capabilities` and the pipelines charts are made of.

use serde_json::json;

use super::{err, render};
use crate::helm::template::Templates;

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
