//! `RegistryError`: everything that can go wrong talking to a registry. Messages name the
//! registry and the object, never a credential, token or upload URL, and say what to do next.

use miette::Diagnostic;

/// Where credentials were looked for, for auth error messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthSource {
    /// This auth file was read.
    File(std::path::PathBuf),
    /// No auth file exists at any of these paths.
    NotFound(Vec<std::path::PathBuf>),
}

impl std::fmt::Display for AuthSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AuthSource::File(p) => write!(f, "auth file {}", p.display()),
            AuthSource::NotFound(paths) => {
                let list: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
                write!(f, "no auth file found (searched: {})", list.join(", "))
            }
        }
    }
}

#[derive(Debug, thiserror::Error, Diagnostic)]
pub enum RegistryError {
    #[error("cannot connect to registry {registry} for {what}: {message}")]
    #[diagnostic(help(
        "check that the registry address is right and reachable; for a registry with a private CA pass --cert-dir, for a plain-HTTP lab registry pass --src-tls-verify=false or --dest-tls-verify=false"
    ))]
    Connect {
        registry: String,
        what: String,
        message: String,
    },

    #[error("registry {registry} refused {what} ({status}); credentials from {source_desc}")]
    #[diagnostic(help(
        "log in with `podman login {registry}` or `skopeo login {registry}` (or write the credentials into the auth file), or pass --authfile FILE; check that the account may pull (source) or push (destination) this repository"
    ))]
    Unauthorized {
        registry: String,
        what: String,
        status: u16,
        source_desc: String,
    },

    #[error("{what} not found in registry {registry}")]
    #[diagnostic(help(
        "check the repository, tag or digest; `skopeo inspect` shows what the registry holds"
    ))]
    NotFound { registry: String, what: String },

    #[error("registry {registry} answered {status} for {what}: {message}")]
    #[diagnostic(help(
        "this is what the registry said; if it is a server error, retry later or lower --jobs"
    ))]
    Status {
        registry: String,
        what: String,
        status: u16,
        message: String,
        retry_after: Option<u64>,
    },

    #[error(
        "{what} failed on registry {registry} after {attempts} attempts over {seconds}s; last error: {last}"
    )]
    #[diagnostic(help(
        "the registry kept failing with transient errors; check its health and rerun (finished work is not repeated), or lower --jobs"
    ))]
    RetriesExhausted {
        registry: String,
        what: String,
        attempts: u32,
        seconds: u64,
        last: String,
    },

    #[error("registry {registry} does not allow deleting manifests ({status} {message})")]
    #[diagnostic(help(
        "enable deletion on the registry and rerun: for CNCF distribution set REGISTRY_STORAGE_DELETE_ENABLED=true (or `storage: delete: enabled: true` in its config) and restart it; Quay and Harbor allow deletion to accounts with admin (Quay) or project-admin (Harbor) rights. Nothing was deleted"
    ))]
    DeleteRefused {
        registry: String,
        status: u16,
        message: String,
    },

    #[error("{what} from registry {registry} has digest {actual}, expected {expected}")]
    #[diagnostic(help(
        "the content is corrupt or was replaced; nothing was tagged. Check the source registry (or a proxy in between) and rerun"
    ))]
    DigestMismatch {
        registry: String,
        what: String,
        expected: String,
        actual: String,
    },

    #[error("{what}: its descriptor says {descriptor} bytes, but the blob has {actual}")]
    #[diagnostic(help(
        "the manifest lies about its content's size, so no client could pull it; nothing was tagged. Fix or rebuild the image at the source"
    ))]
    SizeMismatch {
        what: String,
        descriptor: u64,
        actual: u64,
    },

    #[error("registry {registry} sent an invalid response for {what}: {message}")]
    #[diagnostic(help(
        "the registry does not follow the OCI distribution spec here; report it to its operator"
    ))]
    Protocol {
        registry: String,
        what: String,
        message: String,
    },

    /// A blob read from a local file (an OCI layout) to be uploaded.
    #[error("cannot read {path}: {message}")]
    #[diagnostic(help(
        "check that the file exists and is readable (an OCI image layout keeps blobs under blobs/sha256/)"
    ))]
    LocalFile { path: String, message: String },

    #[error("cannot read auth file {path}: {message}")]
    #[diagnostic(help(
        "fix the JSON (it must look like {{\"auths\": {{\"host\": {{\"auth\": \"base64(user:password)\"}}}}}}) or pass another --authfile"
    ))]
    AuthFile { path: String, message: String },

    #[error("cannot load CA certificates from {path}: {message}")]
    #[diagnostic(help("--cert-dir must be a directory of PEM files named *.crt or *.pem"))]
    CertDir { path: String, message: String },

    /// registries.conf leaves no source for a read (blocked), or its rewrite is not a name.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Redirect(#[from] super::conf::SourceError),

    /// Every source registries.conf gives for a read failed: the last one's error, and what
    /// the sources before it answered.
    #[error("{last}; {tried}")]
    #[diagnostic(help("{help}"))]
    Sources {
        last: Box<RegistryError>,
        tried: String,
        help: String,
    },
}

impl RegistryError {
    /// The error itself, or for [`RegistryError::Sources`] the last source's error: what to
    /// classify a failure by (not found, digest mismatch, ...).
    pub fn last(&self) -> &RegistryError {
        match self {
            RegistryError::Sources { last, .. } => last.last(),
            other => other,
        }
    }

    /// A failure worth retrying: connection trouble, 408, 429 and 5xx.
    pub fn is_transient(&self) -> bool {
        match self.last() {
            // A TLS mismatch or an untrusted certificate does not heal by waiting.
            RegistryError::Connect { message, .. } => !is_tls_failure(message),
            RegistryError::Status { status, .. } => is_transient_status(*status),
            _ => false,
        }
    }

    /// The `Retry-After` the registry asked for, in seconds.
    pub fn retry_after(&self) -> Option<u64> {
        match self.last() {
            RegistryError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// A connection failure caused by TLS (plain HTTP answered, untrusted or mismatched
/// certificate), which retrying cannot fix.
pub fn is_tls_failure(message: &str) -> bool {
    [
        "InvalidContentType",
        "corrupt message",
        "wrong version number",
        "UnknownIssuer",
        "invalid peer certificate",
        "NotValidForName",
    ]
    .iter()
    .any(|m| message.contains(m))
}

/// 408, 429 and 5xx are retried.
pub fn is_transient_status(status: u16) -> bool {
    status == 408 || status == 429 || (500..600).contains(&status)
}
