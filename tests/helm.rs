//! Helm sets end to end: fixture charts modelled on real ones (a podinfo-like chart, an umbrella
//! chart with subcharts and `global.imageRegistry`, a chart built on `include`/`tpl`/`printf`/
//! `default`/`quote` helpers, a chart whose image sits only in an initContainer), served by a
//! local classic chart repository (`index.yaml` over HTTP) and pushed to a real registry as an
//! OCI chart. Checked: the images found per chart, exactly; the mirrored chart artifacts (read
//! back with skopeo); the images at the mirror; IDMS/ITMS; a no-op rebuild.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Output};

use serde_json::{Value, json};
use support::{Fixture, Format, Layer, Registry, RegistryOptions, SkopeoAuth, skopeo_inspect_raw};

const BIN: &str = env!("CARGO_BIN_EXE_airlift");
const HELM_CONFIG: &str = "application/vnd.cncf.helm.config.v1+json";
const HELM_CONTENT: &str = "application/vnd.cncf.helm.chart.content.v1.tar+gzip";

/// A chart archive as `helm package` writes it: every file below `<name>/`.
fn chart_tgz(name: &str, files: &[(&str, &[u8])]) -> Vec<u8> {
    let gz = flate2::GzBuilder::new().write(Vec::new(), flate2::Compression::default());
    let mut b = tar::Builder::new(gz);
    for (path, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, format!("{name}/{path}"), *data)
            .expect("tar");
    }
    b.into_inner().expect("tar").finish().expect("gzip")
}

fn podinfo(host: &str, version: &str, app: &str) -> Vec<u8> {
    let chart = format!(
        "apiVersion: v2\nname: podinfo\nversion: {version}\nappVersion: \"{app}\"\ndescription: podinfo-like\n"
    );
    let values = format!(
        "replicaCount: 1\nimage:\n  repository: {host}/apps/podinfo\n  tag: \"\"\n  pullPolicy: IfNotPresent\n"
    );
    let helpers = r#"{{- define "podinfo.fullname" -}}
{{- if contains .Chart.Name .Release.Name }}{{ .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}{{ printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" }}{{ end }}
{{- end }}
{{- define "podinfo.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}
"#;
    let deployment = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "podinfo.fullname" . }}
  labels:
    {{- include "podinfo.labels" . | nindent 4 }}
spec:
  replicas: {{ .Values.replicaCount }}
  template:
    spec:
      containers:
        - name: podinfo
          image: "{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}"
          imagePullPolicy: {{ .Values.image.pullPolicy }}
"#;
    let notes = "Visit {{ .Values.nothing.here }}\n";
    chart_tgz(
        "podinfo",
        &[
            ("Chart.yaml", chart.as_bytes()),
            ("values.yaml", values.as_bytes()),
            ("templates/_helpers.tpl", helpers.as_bytes()),
            ("templates/deployment.yaml", deployment.as_bytes()),
            ("templates/NOTES.txt", notes.as_bytes()),
        ],
    )
}

/// An umbrella chart: a subchart directory enabled by its condition, a subchart archive
/// disabled by its condition, and `global.imageRegistry` overriding the subchart's registry.
fn platform(host: &str) -> Vec<u8> {
    let chart = "apiVersion: v2\nname: platform\nversion: 2.1.0\nappVersion: \"2.1.0\"\ndependencies:\n  - name: cache\n    version: 1.0.0\n    condition: cache.enabled\n  - name: metrics\n    version: 1.0.0\n    condition: metrics.enabled\n";
    let values = format!(
        "global:\n  imageRegistry: {host}\ncache:\n  enabled: true\nmetrics:\n  enabled: false\n"
    );
    let sts = r#"apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: {{ .Release.Name }}
spec:
  template:
    spec:
      containers:
        - name: platform
          image: {{ .Values.global.imageRegistry }}/apps/platform:{{ .Chart.AppVersion }}
"#;
    let cache_chart = "apiVersion: v2\nname: cache\nversion: 1.0.0\n";
    let cache_values = "image:\n  registry: docker.io\n  repository: apps/cache\n  tag: \"7\"\n";
    let cache_deploy = r#"{{- $registry := .Values.global.imageRegistry | default .Values.image.registry -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: cache
spec:
  template:
    spec:
      containers:
        - name: cache
          image: {{ printf "%s/%s:%s" $registry .Values.image.repository .Values.image.tag }}
"#;
    let metrics = chart_tgz(
        "metrics",
        &[
            ("Chart.yaml", b"apiVersion: v2\nname: metrics\nversion: 1.0.0\n"),
            (
                "templates/ds.yaml",
                format!("apiVersion: apps/v1\nkind: DaemonSet\nmetadata:\n  name: m\nspec:\n  template:\n    spec:\n      containers:\n        - name: m\n          image: {host}/apps/metrics:1\n").as_bytes(),
            ),
        ],
    );
    chart_tgz(
        "platform",
        &[
            ("Chart.yaml", chart.as_bytes()),
            ("values.yaml", values.as_bytes()),
            ("templates/statefulset.yaml", sts.as_bytes()),
            ("charts/cache/Chart.yaml", cache_chart.as_bytes()),
            ("charts/cache/values.yaml", cache_values.as_bytes()),
            (
                "charts/cache/templates/deployment.yaml",
                cache_deploy.as_bytes(),
            ),
            ("charts/metrics-1.0.0.tgz", &metrics),
        ],
    )
}

/// A chart whose images are made by `include`, `tpl`, `printf`, `default` and `quote`.
fn helpers(host: &str) -> Vec<u8> {
    let chart = "apiVersion: v2\nname: helpers\nversion: 0.1.0\n";
    let values = format!(
        "registry: {host}\nimages:\n  api:\n    name: apps/api\n    tag: \"2.0\"\n  ui:\n    name: apps/ui\nsidecarTemplate: \"{{{{ .Values.registry }}}}/apps/sidecar:{{{{ .Chart.Version }}}}\"\n"
    );
    let tpl = r#"{{- define "helpers.image" -}}
{{- printf "%s/%s:%s" .root.Values.registry .img.name (.img.tag | default "latest") -}}
{{- end -}}
"#;
    let deployment = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
spec:
  template:
    spec:
      containers:
        - name: api
          image: {{ include "helpers.image" (dict "root" . "img" .Values.images.api) | quote }}
        - name: ui
          image: {{ include "helpers.image" (dict "root" . "img" .Values.images.ui) | quote }}
        - name: sidecar
          image: {{ tpl .Values.sidecarTemplate . | quote }}
"#;
    chart_tgz(
        "helpers",
        &[
            ("Chart.yaml", chart.as_bytes()),
            ("values.yaml", values.as_bytes()),
            ("templates/_helpers.tpl", tpl.as_bytes()),
            ("templates/deployment.yaml", deployment.as_bytes()),
        ],
    )
}

/// A CronJob chart whose init image appears nowhere but in an initContainer.
fn jobs(host: &str) -> Vec<u8> {
    let chart = "apiVersion: v2\nname: jobs\nversion: 0.3.0\nappVersion: \"1.0\"\n";
    let values = format!(
        "init:\n  image: {host}/apps/init:1.0\nworker:\n  repository: {host}/apps/worker\n"
    );
    let cron = r#"apiVersion: batch/v1
kind: CronJob
metadata:
  name: {{ .Release.Name }}
spec:
  schedule: "0 * * * *"
  jobTemplate:
    spec:
      template:
        spec:
          initContainers:
            - name: init
              image: {{ .Values.init.image }}
          containers:
            - name: worker
              image: "{{ .Values.worker.repository }}:{{ .Chart.AppVersion }}"
          restartPolicy: OnFailure
"#;
    chart_tgz(
        "jobs",
        &[
            ("Chart.yaml", chart.as_bytes()),
            ("values.yaml", values.as_bytes()),
            ("templates/cronjob.yaml", cron.as_bytes()),
        ],
    )
}

fn sha256(b: &[u8]) -> String {
    support::fixture::sha256(b)
}

/// A classic repository: `index.yaml` listing `charts` (name, version, archive), with relative
/// URLs and digests.
fn repository(charts: &[(&str, &str, &[u8])]) -> support::http::StaticServer {
    let mut entries: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
    let mut files = BTreeMap::new();
    for (name, version, tgz) in charts {
        let file = format!("{name}-{version}.tgz");
        entries.entry(name).or_default().push(json!({
            "name": name,
            "version": version,
            "digest": sha256(tgz).trim_start_matches("sha256:"),
            "urls": [file.clone()],
        }));
        files.insert(format!("/charts/{file}"), tgz.to_vec());
    }
    let index = json!({"apiVersion": "v1", "entries": entries});
    files.insert(
        "/charts/index.yaml".to_string(),
        serde_json::to_vec_pretty(&index).expect("json"),
    );
    support::http::StaticServer::start(files)
}

/// Pushes `tgz` to `repo:tag` as an OCI chart artifact, as `helm push` lays it out; returns the
/// manifest digest.
async fn push_chart(fx: &Fixture, repo: &str, tag: &str, meta: Value, tgz: &[u8]) -> String {
    let config = serde_json::to_vec(&meta).expect("json");
    let c = fx.push_blob(repo, &config, HELM_CONFIG).await;
    let l = fx.push_blob(repo, tgz, HELM_CONTENT).await;
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": HELM_CONFIG, "digest": c.digest, "size": c.size},
        "layers": [{"mediaType": HELM_CONTENT, "digest": l.digest, "size": l.size}],
    });
    let bytes = serde_json::to_vec(&manifest).expect("json");
    fx.push_manifest(
        repo,
        tag,
        "application/vnd.oci.image.manifest.v1+json",
        &bytes,
    )
    .await
}

fn airlift(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(["--src-tls-verify=false", "--dest-tls-verify=false"])
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .expect("run airlift")
}

fn ok(o: &Output) -> String {
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "airlift failed: {err}");
    err
}

/// Images found per chart in `plan --format json`.
fn images_per_chart(plan: &Value) -> BTreeMap<String, BTreeSet<String>> {
    plan["charts"]
        .as_array()
        .expect("charts")
        .iter()
        .map(|c| {
            let images = c["images"]
                .as_object()
                .expect("images")
                .keys()
                .cloned()
                .collect();
            (c["chart"].as_str().expect("chart").to_string(), images)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_images_of_each_chart_are_found_exactly() {
    let up = Registry::start(RegistryOptions::default());
    let fx = Fixture::new(&up);
    let host = up.host();
    let old = podinfo(&host, "6.4.0", "6.4.0");
    let new = podinfo(&host, "6.5.0", "6.5.0");
    let (plat, help) = (platform(&host), helpers(&host));
    let repo = repository(&[
        ("podinfo", "6.4.0", &old),
        ("podinfo", "6.5.0", &new),
        ("platform", "2.1.0", &plat),
        ("helpers", "0.1.0", &help),
    ]);
    let meta = json!({"apiVersion": "v2", "name": "jobs", "version": "0.3.0", "appVersion": "1.0"});
    push_chart(&fx, "charts/jobs", "0.2.0", meta.clone(), &jobs(&host)).await;
    push_chart(&fx, "charts/jobs", "0.3.0", meta, &jobs(&host)).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let recipe = format!(
        r#"helm "charts" {{
    repository "web" "{}/charts" {{
        chart "podinfo" version=">=6.0.0 <7.0.0"
        chart "platform"
        chart "helpers" version="0.1.0"
    }}
    repository "oci" "oci://{host}/charts" {{
        chart "jobs"
    }}
}}
images "rules" {{
    block "/apps/ui:"
}}
target "mirror" "docker://127.0.0.1:1/mirror" {{
    needs "charts"
}}
"#,
        repo.base_url()
    );
    std::fs::write(dir.path().join("airlift.kdl"), recipe).expect("recipe");
    let out = airlift(dir.path(), &["plan", "--format", "json"]);
    let err = ok(&out);
    let plan: Value = serde_json::from_slice(&out.stdout).expect("plan json");
    let found = images_per_chart(&plan);
    let set = |v: &[&str]| -> BTreeSet<String> { v.iter().map(|s| s.to_string()).collect() };
    assert_eq!(
        found["podinfo"],
        set(&[&format!("{host}/apps/podinfo:6.5.0")])
    );
    assert_eq!(
        found["platform"],
        set(&[
            &format!("{host}/apps/cache:7"),
            &format!("{host}/apps/platform:2.1.0")
        ]),
        "the disabled metrics subchart must not count"
    );
    assert_eq!(
        found["helpers"],
        set(&[
            &format!("{host}/apps/api:2.0"),
            &format!("{host}/apps/sidecar:0.1.0"),
            &format!("{host}/apps/ui:latest"),
        ])
    );
    assert_eq!(
        found["jobs"],
        set(&[
            &format!("{host}/apps/init:1.0"),
            &format!("{host}/apps/worker:1.0")
        ])
    );
    let versions: BTreeMap<&str, &str> = plan["charts"]
        .as_array()
        .expect("charts")
        .iter()
        .map(|c| (c["chart"].as_str().unwrap(), c["version"].as_str().unwrap()))
        .collect();
    assert_eq!(
        versions["podinfo"], "6.5.0",
        "the range takes the highest match"
    );
    assert_eq!(versions["jobs"], "0.3.0", "no version takes the latest tag");
    assert!(!err.contains("cannot be rendered"), "{err}");
    // `block` leaves a chart image out like any other.
    assert!(
        err.contains(&format!("blocked: {host}/apps/ui:latest of `charts`")),
        "{err}"
    );
    // (The images were never pushed: the plan lists them missing, all but the blocked one.)
    let missing: Vec<&str> = plan["missing"]
        .as_array()
        .expect("missing")
        .iter()
        .filter_map(|m| m["image"].as_str())
        .collect();
    assert!(
        missing.iter().any(|m| m.contains("/apps/api:2.0")),
        "{missing:?}"
    );
    assert!(
        !missing.iter().any(|m| m.contains("/apps/ui")),
        "{missing:?}"
    );
    // `plan -v` lists them for people.
    let text = airlift(dir.path(), &["plan", "-v"]);
    let stdout = String::from_utf8_lossy(&text.stdout);
    assert!(
        stdout.contains(&format!(
            "  image {host}/apps/init:1.0 (jobs/templates/cronjob.yaml)"
        )),
        "{stdout}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn two_charts_and_their_images_reach_a_registry_and_a_rebuild_moves_nothing() {
    let up = Registry::start(RegistryOptions::default());
    let mirror = Registry::start(RegistryOptions::default());
    let fx = Fixture::new(&up);
    let host = up.host();
    let mut sources = Vec::new();
    for (repo, tag) in [
        ("apps/podinfo", "6.5.0"),
        ("apps/init", "1.0"),
        ("apps/worker", "1.0"),
    ] {
        sources.push(
            fx.image(
                repo,
                Some(tag),
                Format::Oci,
                "amd64",
                &[Layer::Random(20_000)],
            )
            .await,
        );
    }
    let pod = podinfo(&host, "6.5.0", "6.5.0");
    let repo = repository(&[("podinfo", "6.5.0", &pod)]);
    let job = jobs(&host);
    let meta = json!({"apiVersion": "v2", "name": "jobs", "version": "0.3.0", "appVersion": "1.0"});
    let job_digest = push_chart(&fx, "charts/jobs", "0.3.0", meta, &job).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let recipe = format!(
        r#"helm "charts" {{
    repository "web" "{}/charts" {{
        chart "podinfo" version="6.5.0"
    }}
    repository "oci" "oci://{host}/charts" {{
        chart "jobs" version="0.3.0"
    }}
}}
target "mirror" "docker://{}/mirror" {{
    needs "charts"
}}
"#,
        repo.base_url(),
        mirror.host()
    );
    std::fs::write(dir.path().join("airlift.kdl"), recipe).expect("recipe");
    ok(&airlift(dir.path(), &["build", "--summary-md", "first.md"]));
    // The job summary names what entered the lock, charts included.
    let md = std::fs::read_to_string(dir.path().join("first.md")).expect("summary");
    assert!(
        md.starts_with("## airlift build succeeded (every target)"),
        "{md}"
    );
    assert!(
        md.contains("| 5 | 0 | 0 | 0 |"),
        "5 copied (3 images, 2 charts): {md}"
    );
    assert!(md.contains("+ charts chart podinfo 6.5.0 ("), "{md}");
    let auth = SkopeoAuth::default();
    let m = mirror.host();
    // The images, byte for byte.
    for s in &sources {
        let at = format!("{m}/mirror/{}:{}", s.repo, s.tag.as_deref().unwrap());
        assert_eq!(
            skopeo_inspect_raw(&at, &auth).expect("image at mirror"),
            s.manifest
        );
    }
    // The OCI chart: copied with its digest unchanged.
    let raw =
        skopeo_inspect_raw(&format!("{m}/mirror/charts/jobs:0.3.0"), &auth).expect("oci chart");
    assert_eq!(sha256(&raw), job_digest);
    // The classic chart: an OCI chart artifact whose content layer is the archive, unchanged.
    let raw = skopeo_inspect_raw(&format!("{m}/mirror/web/podinfo:6.5.0"), &auth).expect("chart");
    let doc: Value = serde_json::from_slice(&raw).expect("manifest");
    assert_eq!(doc["config"]["mediaType"], HELM_CONFIG);
    assert_eq!(doc["layers"][0]["mediaType"], HELM_CONTENT);
    assert_eq!(doc["layers"][0]["digest"], sha256(&pod));
    let copy = tempfile::tempdir().expect("tempdir");
    support::skopeo::skopeo_copy_to_dir(
        &format!("{m}/mirror/web/podinfo:6.5.0"),
        copy.path(),
        &auth,
    )
    .expect("skopeo reads the chart artifact");
    let layer = std::fs::read(copy.path().join(sha256(&pod).trim_start_matches("sha256:")))
        .expect("layer file");
    assert_eq!(layer, pod);
    let config: Value = serde_json::from_slice(
        &std::fs::read(
            copy.path().join(
                doc["config"]["digest"]
                    .as_str()
                    .unwrap()
                    .trim_start_matches("sha256:"),
            ),
        )
        .expect("config file"),
    )
    .expect("config json");
    assert_eq!(
        (config["name"].as_str(), config["version"].as_str()),
        (Some("podinfo"), Some("6.5.0"))
    );
    // Cluster resources cover every image the charts deploy.
    let resources = support::sides::resources_of(dir.path(), "mirror", "mirror");
    let all: String = resources.values().cloned().collect();
    for repo in ["apps/podinfo", "apps/init", "apps/worker"] {
        assert!(
            all.contains(&format!("source: {host}/{repo}")),
            "{repo} is not in the cluster resources: {all}"
        );
    }
    // The lock pins both charts.
    let lock: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("airlift.lock")).expect("lock"))
            .expect("lock json");
    let pinned: Vec<(&str, &str)> = lock["charts"]
        .as_array()
        .expect("charts in the lock")
        .iter()
        .map(|c| (c["chart"].as_str().unwrap(), c["digest"].as_str().unwrap()))
        .collect();
    let pod_digest = sha256(&pod);
    // Sorted by set, repository (http://… before oci://…), chart.
    assert_eq!(
        pinned,
        [
            ("podinfo", pod_digest.as_str()),
            ("jobs", job_digest.as_str())
        ]
    );
    // A rebuild moves nothing, and its final event and job summary say so.
    let again = airlift(
        dir.path(),
        &[
            "build",
            "--message-format",
            "json",
            "--summary-md",
            "again.md",
        ],
    );
    ok(&again);
    let events: Vec<Value> = String::from_utf8_lossy(&again.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let started = events
        .iter()
        .filter(|e| e["event"] == "job-started")
        .count();
    assert_eq!(started, 0, "a no-op rebuild started jobs: {events:?}");
    let last = events.last().expect("events");
    assert_eq!(last["event"], "build-summary");
    assert_eq!(
        (last["copied"].as_u64(), last["fresh"].as_u64()),
        (Some(0), Some(5))
    );
    let md = std::fs::read_to_string(dir.path().join("again.md")).expect("summary");
    assert!(md.contains("The lock did not change."), "{md}");
}

#[tokio::test(flavor = "multi_thread")]
async fn charts_cross_an_air_gap_and_land_as_a_direct_build_puts_them() {
    let mut up = Registry::start(RegistryOptions::default());
    let mirror = Registry::start(RegistryOptions::default());
    let fx = Fixture::new(&up);
    let host = up.host();
    for (repo, tag) in [
        ("apps/podinfo", "6.5.0"),
        ("apps/init", "1.0"),
        ("apps/worker", "1.0"),
    ] {
        fx.image(
            repo,
            Some(tag),
            Format::Oci,
            "amd64",
            &[Layer::Random(10_000)],
        )
        .await;
    }
    let pod = podinfo(&host, "6.5.0", "6.5.0");
    let repo = repository(&[("podinfo", "6.5.0", &pod)]);
    let meta = json!({"apiVersion": "v2", "name": "jobs", "version": "0.3.0", "appVersion": "1.0"});
    let job_digest = push_chart(&fx, "charts/jobs", "0.3.0", meta, &jobs(&host)).await;
    let m = mirror.host();
    let repo_url = repo.base_url();
    let recipe = |disk: &str| {
        format!(
            r#"helm "charts" {{
    repository "web" "{repo_url}/charts" {{
        chart "podinfo"
    }}
    repository "oci" "oci://{host}/charts" {{
        chart "jobs"
    }}
}}
target "disk" "file://{disk}" {{
    needs "charts"
}}
target "enterprise" "docker://{m}/ent" {{
    needs "disk"
}}
target "direct" "docker://{m}/direct" {{
    needs "charts"
}}
"#
        )
    };
    // Connected side: the archive and a direct build to compare with.
    let connected = tempfile::tempdir().expect("tempdir");
    std::fs::write(connected.path().join("airlift.kdl"), recipe("out/disk")).expect("recipe");
    ok(&airlift(connected.path(), &["build", "disk", "direct"]));
    // `describe` names the charts the archive carries.
    let described = airlift(connected.path(), &["describe", "out/disk"]);
    let text = String::from_utf8_lossy(&described.stdout);
    assert!(
        text.contains("    charts: jobs 0.3.0, podinfo 6.5.0"),
        "{text}"
    );
    // The other side has the copied directory only: no source registry, no chart repository.
    let side = tempfile::tempdir().expect("tempdir");
    let carried = side.path().join("media/disk");
    support::sides::copy_dir(&connected.path().join("out/disk"), &carried, |_| true);
    up.stop();
    drop(repo);
    let work = side.path().join("work");
    std::fs::create_dir_all(&work).expect("mkdir");
    std::fs::write(
        work.join("airlift.kdl"),
        recipe(&carried.display().to_string()),
    )
    .expect("recipe");
    ok(&airlift(&work, &["build", "enterprise"]));
    let auth = SkopeoAuth::default();
    for name in [
        "web/podinfo:6.5.0",
        "charts/jobs:0.3.0",
        "apps/podinfo:6.5.0",
        "apps/init:1.0",
        "apps/worker:1.0",
    ] {
        let ent = skopeo_inspect_raw(&format!("{m}/ent/{name}"), &auth)
            .unwrap_or_else(|e| panic!("{name} at the enterprise registry: {e}"));
        let direct = skopeo_inspect_raw(&format!("{m}/direct/{name}"), &auth).expect("direct");
        assert_eq!(
            ent, direct,
            "{name}: disk-to-mirror pushes what a direct build pushes"
        );
    }
    assert_eq!(
        sha256(
            &skopeo_inspect_raw(&format!("{m}/ent/charts/jobs:0.3.0"), &auth).expect("oci chart")
        ),
        job_digest
    );
    assert_eq!(
        support::sides::resources_of(&work, "enterprise", "ent"),
        support::sides::resources_of(connected.path(), "direct", "direct"),
        "disk-to-mirror renders what a direct build renders"
    );
    // A rerun on the disconnected side moves nothing.
    let again = airlift(&work, &["build", "enterprise", "--message-format", "json"]);
    ok(&again);
    let started = String::from_utf8_lossy(&again.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["event"] == "job-started")
        .count();
    assert_eq!(started, 0);
}
