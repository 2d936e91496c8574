//! `convert-icsp`: ImageContentSourcePolicy → ImageDigestMirrorSet, as `oc adm migrate icsp`.
//!
//! Each ICSP document becomes an IDMS with `apiVersion: config.openshift.io/v1`,
//! `kind: ImageDigestMirrorSet` and `spec.repositoryDigestMirrors` renamed to
//! `spec.imageDigestMirrors`; everything else (name, labels, annotations, other fields) is kept,
//! except what the API server wrote about the old object: `status`, `creationTimestamp`,
//! `generation`, `managedFields`, `resourceVersion`, `selfLink`, `uid` and the
//! `kubectl.kubernetes.io/last-applied-configuration` annotation.
//! Keys are written sorted. Multi-document input is supported, and so is `kind: List` (what
//! `oc get imagecontentsourcepolicy -o yaml` prints): each item is converted. Malformed input is reported as a
//! miette diagnostic pointing at the offending node, e.g.
//! `spec.repositoryDigestMirrors[1].source: missing`. Pure: the caller reads and writes files.

use miette::{NamedSource, SourceSpan};
use serde::Deserialize;
use serde_json::Value;
use serde_saphyr::Spanned;

use super::yaml::{join_documents, to_yaml};

const ICSP_API: &str = "operator.openshift.io/v1alpha1";
const ICSP_KIND: &str = "ImageContentSourcePolicy";

/// One converted object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Converted {
    /// `metadata.name`, for the output file name `imagedigestmirrorset_<name>.yaml`.
    pub name: String,
    /// The ImageDigestMirrorSet as one YAML document.
    pub yaml: String,
}

/// Why an input file could not be converted (boxed: diagnostics carry the whole source text).
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error(transparent)]
#[diagnostic(transparent)]
pub struct ConvertError(Box<ConvertErrorKind>);

impl ConvertError {
    /// What went wrong, to match on.
    pub fn kind(&self) -> &ConvertErrorKind {
        &self.0
    }
}

impl From<ConvertErrorKind> for ConvertError {
    fn from(kind: ConvertErrorKind) -> Self {
        ConvertError(Box::new(kind))
    }
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum ConvertErrorKind {
    #[error("could not read {file}: {message}")]
    #[diagnostic(
        code(airlift::convert_icsp::yaml),
        help(
            "fix the YAML at the marked place; `oc get imagecontentsourcepolicy <name> -o yaml` writes valid input"
        )
    )]
    Yaml {
        file: String,
        message: String,
        #[source_code]
        src: NamedSource<String>,
        #[label("here")]
        span: Option<SourceSpan>,
    },
    #[error("{file}: {path}: {problem}")]
    #[diagnostic(code(airlift::convert_icsp::field), help("{help}"))]
    Field {
        file: String,
        path: String,
        problem: String,
        help: String,
        #[source_code]
        src: NamedSource<String>,
        #[label("{problem}")]
        span: SourceSpan,
    },
    #[error("{file} holds no ImageContentSourcePolicy")]
    #[diagnostic(
        code(airlift::convert_icsp::empty),
        help("pass files written by `oc get imagecontentsourcepolicy <name> -o yaml`")
    )]
    Empty { file: String },
    #[error("could not write the ImageDigestMirrorSet for {file}: {message}")]
    #[diagnostic(
        code(airlift::convert_icsp::emit),
        help("this is a bug in airlift; please report it")
    )]
    Emit { file: String, message: String },
}

#[derive(Deserialize)]
struct Shape {
    #[serde(rename = "apiVersion")]
    api_version: Option<Spanned<Value>>,
    kind: Option<Spanned<Value>>,
    metadata: Option<Spanned<MetaShape>>,
    spec: Option<Spanned<SpecShape>>,
    /// `kind: List` (what `oc get imagecontentsourcepolicy -o yaml` prints): its objects.
    items: Option<Vec<Shape>>,
}

/// A `kind: List` document's objects in place of the document; other documents as they are.
fn flatten_lists(values: Vec<Value>, shapes: Vec<Shape>) -> (Vec<Value>, Vec<Shape>) {
    let mut vs = Vec::new();
    let mut ss = Vec::new();
    for (mut v, mut s) in values.into_iter().zip(shapes) {
        let is_list = s
            .kind
            .as_ref()
            .is_some_and(|k| k.value.as_str() == Some("List"));
        match (is_list, s.items.take(), v.get_mut("items").map(Value::take)) {
            (true, Some(items), Some(Value::Array(values))) if items.len() == values.len() => {
                vs.extend(values);
                ss.extend(items);
            }
            _ => {
                vs.push(v);
                ss.push(s);
            }
        }
    }
    (vs, ss)
}

#[derive(Deserialize)]
struct MetaShape {
    name: Option<Spanned<Value>>,
}

#[derive(Deserialize)]
struct SpecShape {
    #[serde(rename = "repositoryDigestMirrors")]
    repository_digest_mirrors: Option<Spanned<Vec<Spanned<ItemShape>>>>,
}

#[derive(Deserialize)]
struct ItemShape {
    source: Option<Spanned<Value>>,
    mirrors: Option<Spanned<Vec<Spanned<Value>>>>,
}

/// Converts every ICSP in `input` (read from `file_name`, used in diagnostics) and returns the
/// IDMS documents as one YAML stream.
pub fn convert_icsp(input: &str, file_name: &str) -> Result<String, ConvertError> {
    let objects = convert_icsp_objects(input, file_name)?;
    let docs: Vec<String> = objects.into_iter().map(|c| c.yaml).collect();
    Ok(join_documents(&docs))
}

/// Converts every ICSP in `input`, one [`Converted`] per document, in input order.
pub fn convert_icsp_objects(input: &str, file_name: &str) -> Result<Vec<Converted>, ConvertError> {
    let ctx = Ctx { input, file_name };
    let values: Vec<Value> = serde_saphyr::from_multiple(input).map_err(|e| ctx.yaml_error(&e))?;
    let values: Vec<Value> = values.into_iter().filter(|v| !v.is_null()).collect();
    let shapes: Vec<Option<Shape>> =
        serde_saphyr::from_multiple(input).map_err(|e| ctx.yaml_error(&e))?;
    let shapes: Vec<Shape> = shapes.into_iter().flatten().collect();
    if values.len() != shapes.len() {
        return Err(ConvertErrorKind::Emit {
            file: file_name.to_string(),
            message: format!(
                "read {} documents as values but {} as objects",
                values.len(),
                shapes.len()
            ),
        }
        .into());
    }
    let (values, shapes) = flatten_lists(values, shapes);
    if values.len() != shapes.len() {
        return Err(ConvertErrorKind::Emit {
            file: file_name.to_string(),
            message: format!(
                "read {} documents as values but {} as objects",
                values.len(),
                shapes.len()
            ),
        }
        .into());
    }
    if values.is_empty() {
        return Err(ConvertErrorKind::Empty {
            file: file_name.to_string(),
        }
        .into());
    }
    let mut out = Vec::with_capacity(values.len());
    for (value, shape) in values.into_iter().zip(&shapes) {
        let name = ctx.check(shape)?;
        let idms = to_idms(value);
        let yaml = to_yaml(file_name, &idms)
            .map_err(|e| ConvertErrorKind::Emit {
                file: file_name.to_string(),
                message: e.to_string(),
            })
            .map_err(ConvertError::from)?;
        out.push(Converted { name, yaml });
    }
    Ok(out)
}

/// Metadata the API server fills in; it describes the ICSP object, not the new IDMS, and
/// `resourceVersion` would make `oc create` fail.
const SERVER_METADATA: [&str; 6] = [
    "creationTimestamp",
    "generation",
    "managedFields",
    "resourceVersion",
    "selfLink",
    "uid",
];
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Rewrites apiVersion, kind and the spec field name; drops `status` and server-populated
/// metadata (as `oc adm migrate icsp` drops `creationTimestamp` and `status`); keeps the rest.
fn to_idms(mut value: Value) -> Value {
    if let Value::Object(map) = &mut value {
        map.remove("status");
        if let Some(Value::Object(meta)) = map.get_mut("metadata") {
            for key in SERVER_METADATA {
                meta.remove(key);
            }
            if let Some(Value::Object(annotations)) = meta.get_mut("annotations") {
                annotations.remove(LAST_APPLIED);
                if annotations.is_empty() {
                    meta.remove("annotations");
                }
            }
        }
        map.insert(
            "apiVersion".into(),
            Value::String("config.openshift.io/v1".into()),
        );
        map.insert("kind".into(), Value::String("ImageDigestMirrorSet".into()));
        if let Some(Value::Object(spec)) = map.get_mut("spec")
            && let Some(mirrors) = spec.remove("repositoryDigestMirrors")
        {
            spec.insert("imageDigestMirrors".into(), mirrors);
        }
    }
    value
}

struct Ctx<'a> {
    input: &'a str,
    file_name: &'a str,
}

impl Ctx<'_> {
    fn src(&self) -> NamedSource<String> {
        NamedSource::new(self.file_name, self.input.to_string())
    }

    fn yaml_error(&self, e: &serde_saphyr::Error) -> ConvertError {
        let (span, message) = super::yaml_span::error_place(self.input, e);
        ConvertErrorKind::Yaml {
            file: self.file_name.to_string(),
            message,
            src: self.src(),
            span,
        }
        .into()
    }

    fn field<T>(&self, at: &Spanned<T>, path: &str, problem: &str, help: &str) -> ConvertError {
        ConvertErrorKind::Field {
            file: self.file_name.to_string(),
            path: path.to_string(),
            problem: problem.to_string(),
            help: help.to_string(),
            src: self.src(),
            span: super::yaml_span::value_span(self.input, at),
        }
        .into()
    }

    fn field_at_start(&self, path: &str, problem: &str, help: &str) -> ConvertError {
        ConvertErrorKind::Field {
            file: self.file_name.to_string(),
            path: path.to_string(),
            problem: problem.to_string(),
            help: help.to_string(),
            src: self.src(),
            span: SourceSpan::from((0, self.input.len().min(1))),
        }
        .into()
    }

    /// Checks one document and returns its name.
    fn check(&self, doc: &Shape) -> Result<String, ConvertError> {
        match &doc.kind {
            None => {
                return Err(self.field_at_start(
                    "kind",
                    "missing",
                    "set `kind: ImageContentSourcePolicy`",
                ));
            }
            Some(k) if k.value.as_str() != Some(ICSP_KIND) => {
                return Err(self.field(
                    k,
                    "kind",
                    &format!("expected `{ICSP_KIND}`, found {}", show(&k.value)),
                    "convert-icsp converts ImageContentSourcePolicy objects only; remove other kinds from the file",
                ));
            }
            Some(_) => {}
        }
        match &doc.api_version {
            None => {
                return Err(self.field_at_start(
                    "apiVersion",
                    "missing",
                    &format!("set `apiVersion: {ICSP_API}`"),
                ));
            }
            Some(a) if a.value.as_str() != Some(ICSP_API) => {
                return Err(self.field(
                    a,
                    "apiVersion",
                    &format!("expected `{ICSP_API}`, found {}", show(&a.value)),
                    &format!("ImageContentSourcePolicy exists only as `{ICSP_API}`"),
                ));
            }
            Some(_) => {}
        }
        let name = match doc.metadata.as_ref().and_then(|m| m.value.name.as_ref()) {
            Some(n) => match n.value.as_str() {
                Some(s) if is_dns_subdomain(s) => s.to_string(),
                _ => {
                    return Err(self.field(
                        n,
                        "metadata.name",
                        "must be a DNS-1123 subdomain",
                        "use lowercase letters, digits, `-` and `.` (at most 253), as Kubernetes requires",
                    ));
                }
            },
            None => {
                let help = "give the object a name; it names the output file";
                return Err(match &doc.metadata {
                    Some(m) => self.field(m, "metadata.name", "missing", help),
                    None => self.field_at_start("metadata.name", "missing", help),
                });
            }
        };
        let Some(spec) = &doc.spec else {
            return Err(self.field_at_start(
                "spec",
                "missing",
                "an ImageContentSourcePolicy needs `spec.repositoryDigestMirrors`",
            ));
        };
        let Some(items) = &spec.value.repository_digest_mirrors else {
            return Ok(name);
        };
        for (i, item) in items.value.iter().enumerate() {
            let path = format!("spec.repositoryDigestMirrors[{i}]");
            match &item.value.source {
                None => {
                    return Err(self.field(
                        item,
                        &format!("{path}.source"),
                        "missing",
                        "every entry needs `source: <registry>/<repository>` (the repository pulls refer to)",
                    ));
                }
                Some(s) if s.value.as_str().is_none_or(str::is_empty) => {
                    return Err(self.field(
                        s,
                        &format!("{path}.source"),
                        "must be a non-empty string",
                        "write the source repository, e.g. `quay.io/openshift-release-dev/ocp-release`",
                    ));
                }
                Some(_) => {}
            }
            if let Some(mirrors) = &item.value.mirrors {
                for (j, m) in mirrors.value.iter().enumerate() {
                    if m.value.as_str().is_none_or(str::is_empty) {
                        return Err(self.field(
                            m,
                            &format!("{path}.mirrors[{j}]"),
                            "must be a non-empty string",
                            "write each mirror as `<registry>/<repository>`",
                        ));
                    }
                }
            }
        }
        Ok(name)
    }
}

fn show(v: &Value) -> String {
    match v {
        Value::String(s) => format!("`{s}`"),
        other => format!("`{other}`"),
    }
}

/// Kubernetes object names: lowercase RFC 1123 labels joined by `.`, at most 253 bytes.
fn is_dns_subdomain(s: &str) -> bool {
    s.len() <= 253
        && s.split('.').all(|label| {
            let b = label.as_bytes();
            !b.is_empty()
                && b.len() <= 63
                && b[0].is_ascii_alphanumeric()
                && b[b.len() - 1].is_ascii_alphanumeric()
                && b.iter()
                    .all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONE: &str = "apiVersion: operator.openshift.io/v1alpha1\nkind: ImageContentSourcePolicy\nmetadata:\n  name: a\nspec:\n  repositoryDigestMirrors:\n  - mirrors:\n    - m.example/x\n    source: quay.io/x\n";

    #[test]
    fn odd_inputs_are_errors_not_panics() {
        for input in [
            "- a\n- b\n",
            "just a string\n",
            &ONE.replace("    - m.example/x\n", "    - 42\n"),
            &ONE.replace(
                "  - mirrors:\n    - m.example/x\n",
                "  - mirrors: m.example/x\n",
            ),
            &ONE.replace("name: a", "name: Not_Valid"),
            &ONE.replace("name: a", "name: ../../etc"),
            &ONE.replace("kind: ImageContentSourcePolicy\n", ""),
            &ONE.replace("spec:\n", "status:\n"),
        ] {
            let e = convert_icsp(input, "x.yaml").expect_err(input);
            assert!(
                e.to_string().starts_with("could not read x.yaml")
                    || e.to_string().starts_with("x.yaml: "),
                "{e}"
            );
        }
    }

    #[test]
    fn empty_documents_in_a_stream_are_skipped() {
        let input = format!("---\n{ONE}---\n---\n{}", ONE.replace("name: a", "name: b"));
        let objects = convert_icsp_objects(&input, "x.yaml").unwrap();
        assert_eq!(objects.len(), 2);
        assert_eq!(objects[1].name, "b");
    }

    #[test]
    fn null_documents_are_skipped_without_shifting_the_others() {
        let input = format!("--- ~\n---\n{ONE}--- ~\n");
        let objects = convert_icsp_objects(&input, "x.yaml").unwrap();
        assert_eq!(objects.len(), 1);
        assert_eq!(objects[0].name, "a");
    }

    #[test]
    fn a_policy_without_mirrors_converts() {
        let input = ONE
            .split("  repositoryDigestMirrors")
            .next()
            .unwrap()
            .replace("spec:\n", "spec: {}\n");
        let out = convert_icsp(&input, "x.yaml").unwrap();
        assert!(out.contains("kind: ImageDigestMirrorSet"));
    }
}
