//! `airlift build`/`plan` with a `trust` block whose `cosign-key` applies to an images set, end
//! to end against real registries: keys made by the real `openssl` (P-256), signatures computed
//! at test time with `openssl dgst -sha256 -sign` over the simple-signing payload of the pushed
//! digest and pushed as cosign lays them out (`sha256-<hex>.sig`, one annotated payload layer).
//! Results are checked with skopeo.

mod support;

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::json;
use support::cosign::{key_pair, sign};
use support::fixture::{COSIGN_PAYLOAD, OCI_CONFIG, OCI_MANIFEST};
use support::{
    FaultProxy, Fixture, Format, Layer, ProxyOptions, Pushed, Registry, RegistryOptions, SkopeoAuth,
};

const BIN: &str = env!("CARGO_BIN_EXE_airlift");

/// How long a background build may take to reach a point a test waits for: a guard against a
/// hang, not a timing assertion.
const HANG_GUARD: Duration = Duration::from_secs(60);

/// A source registry, a mirror registry and a recipe directory with two P-256 key pairs:
/// `keys/cosign.{key,pub}` (trusted) and `keys/other.{key,pub}`.
struct Lab {
    up: Registry,
    mirror: Registry,
    dir: tempfile::TempDir,
}

impl Lab {
    fn new() -> Lab {
        let lab = Lab {
            up: Registry::start(RegistryOptions::default()),
            mirror: Registry::start(RegistryOptions::default()),
            dir: tempfile::tempdir().expect("tempdir"),
        };
        std::fs::create_dir_all(lab.keys()).expect("keys dir");
        for name in ["cosign", "other"] {
            key_pair(&lab.keys(), name);
        }
        lab
    }

    fn keys(&self) -> PathBuf {
        self.dir.path().join("keys")
    }

    /// `images "signed"` (trusted by `keys/cosign.pub`) and `images "plain"` (no trust), both
    /// mirrored to target `mirror`.
    fn recipe(&self, signed: &[&Pushed], plain: &[&Pushed]) {
        let set = |name: &str, images: &[&Pushed]| {
            let mut s = format!("images \"{name}\" {{\n");
            for i in images {
                s.push_str(&format!("    image \"{}\"\n", i.reference));
            }
            s + "}\n"
        };
        let mut needs = vec!["\"signed\""];
        if !plain.is_empty() {
            needs.push("\"plain\"");
        }
        let s = format!(
            "{}{}trust \"ours\" {{\n    cosign-key \"keys/cosign.pub\"\n    applies-to \"signed\"\n}}\n\n\
             target \"mirror\" \"docker://{}/mirror\" {{\n    needs {}\n}}\n",
            set("signed", signed),
            if plain.is_empty() {
                String::new()
            } else {
                set("plain", plain)
            },
            self.mirror.host(),
            needs.join(" ")
        );
        std::fs::write(self.dir.path().join("airlift.kdl"), s).expect("write recipe");
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(BIN)
            .args(["--src-tls-verify=false", "--dest-tls-verify=false"])
            .args(args)
            .current_dir(self.dir.path())
            .env("NO_COLOR", "1")
            .output()
            .expect("run airlift")
    }

    /// Starts airlift in the background, its output going to files in the recipe directory.
    fn spawn(&self, args: &[&str]) -> Running {
        let file = |name: &str| {
            std::fs::File::create(self.dir.path().join(name)).expect("create output file")
        };
        let child = Command::new(BIN)
            .args(["--src-tls-verify=false", "--dest-tls-verify=false"])
            .args(args)
            .current_dir(self.dir.path())
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(file("build.stdout"))
            .stderr(file("build.stderr"))
            .spawn()
            .expect("spawn airlift");
        Running {
            child,
            stderr: self.dir.path().join("build.stderr"),
        }
    }

    /// `<mirror>/mirror/<repo>` of a pushed source image.
    fn mirror_repo(&self, p: &Pushed) -> String {
        format!("{}/mirror/{}", self.mirror.host(), p.repo)
    }

    fn mirror_ref(&self, p: &Pushed) -> String {
        format!(
            "{}:{}",
            self.mirror_repo(p),
            p.tag.as_deref().expect("tagged")
        )
    }
}

/// An airlift process started by [`Lab::spawn`]; killed if the test ends before it does.
struct Running {
    child: Child,
    stderr: PathBuf,
}

impl Running {
    /// Its stderr so far, or `(no output)`.
    fn stderr(&self) -> String {
        let text = std::fs::read_to_string(&self.stderr).unwrap_or_default();
        if text.trim().is_empty() {
            "(no output)".to_string()
        } else {
            text
        }
    }

    /// Polls `done` until it holds. Panics, naming `what`, if the process exits first or
    /// [`HANG_GUARD`] passes.
    async fn wait_until(&mut self, what: &str, mut done: impl AsyncFnMut() -> bool) {
        let deadline = Instant::now() + HANG_GUARD;
        loop {
            if done().await {
                return;
            }
            if let Some(status) = self.child.try_wait().expect("poll airlift") {
                panic!(
                    "airlift exited ({status}) before {what}:\n{}",
                    self.stderr()
                );
            }
            assert!(
                Instant::now() < deadline,
                "gave up waiting for {what} after {HANG_GUARD:?}; airlift said so far:\n{}",
                self.stderr()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits (at most [`HANG_GUARD`]) for the process to exit; returns its exit code.
    async fn finish(&mut self) -> Option<i32> {
        let deadline = Instant::now() + HANG_GUARD;
        loop {
            if let Some(status) = self.child.try_wait().expect("poll airlift") {
                return status.code();
            }
            assert!(
                Instant::now() < deadline,
                "airlift still running after {HANG_GUARD:?}:\n{}",
                self.stderr()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The simple-signing payload cosign signs for `digest` in `repository`.
fn payload(repository: &str, digest: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "critical": {
            "identity": {"docker-reference": repository},
            "image": {"docker-manifest-digest": digest},
            "type": "cosign container image signature"
        },
        "optional": null
    }))
    .expect("json")
}

/// How the test signature of an image is made.
enum Sig {
    /// Signed by `keys/<name>.key` over the payload for the image's digest.
    By(&'static str),
    /// Signed by the trusted key, then the pushed payload bytes are altered.
    Tampered,
    /// Signed by the trusted key over a payload naming another digest.
    OtherDigest,
}

/// Pushes the cosign signature of `subject`: `sha256-<hex>.sig` in its repository, one layer
/// (the payload blob) annotated with the base64 signature.
async fn push_signature(lab: &Lab, fx: &Fixture, subject: &Pushed, how: Sig) {
    let repository = format!("{}/{}", fx.host(), subject.repo);
    let other = format!("sha256:{}", "0".repeat(64));
    let (key, signed, pushed) = match how {
        Sig::By(name) => {
            let p = payload(&repository, &subject.digest);
            (name, p.clone(), p)
        }
        Sig::Tampered => {
            let p = payload(&repository, &subject.digest);
            // One extra space: still a valid payload for the same digest, but not the signed bytes.
            let t = String::from_utf8_lossy(&p)
                .replace("cosign container", "cosign  container")
                .into_bytes();
            ("cosign", p, t)
        }
        Sig::OtherDigest => {
            let p = payload(&repository, &other);
            ("cosign", p.clone(), p)
        }
    };
    let signature = sign(&lab.keys().join(format!("{key}.key")), &signed);
    let layer = fx.push_blob(&subject.repo, &pushed, COSIGN_PAYLOAD).await;
    let config = fx.push_blob(&subject.repo, b"{}", OCI_CONFIG).await;
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": config.media_type, "digest": config.digest, "size": config.size},
        "layers": [{
            "mediaType": layer.media_type, "digest": layer.digest, "size": layer.size,
            "annotations": {
                "dev.cosignproject.cosign/signature":
                    base64::engine::general_purpose::STANDARD.encode(&signature)
            }
        }],
    });
    let tag = format!("{}.sig", subject.digest.replace(':', "-"));
    fx.push_manifest(
        &subject.repo,
        &tag,
        OCI_MANIFEST,
        &serde_json::to_vec(&manifest).expect("json"),
    )
    .await;
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// `s` without whitespace and miette's `|` gutters: miette wraps long lines anywhere (even
/// after a `/`), so messages are compared squashed.
fn squash(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_whitespace() && *c != '|')
        .collect()
}

/// stderr squashed (see [`squash`]).
fn words(o: &Output) -> String {
    squash(&stderr(o))
}

/// True when the squashed stderr contains `needle` (squashed too).
fn says(err: &str, needle: &str) -> bool {
    err.contains(&squash(needle))
}

fn raw(reference: &str) -> Result<Vec<u8>, String> {
    support::skopeo_inspect_raw(reference, &SkopeoAuth::default())
}

fn assert_mirrored(lab: &Lab, p: &Pushed) {
    let src = raw(&p.reference).expect("source");
    let dst =
        raw(&lab.mirror_ref(p)).unwrap_or_else(|e| panic!("{} not mirrored: {e}", p.reference));
    assert_eq!(src, dst, "{} differs at the mirror", p.reference);
}

fn assert_absent(lab: &Lab, p: &Pushed) {
    assert!(
        raw(&lab.mirror_ref(p)).is_err(),
        "{} must not be tagged at the mirror",
        p.reference
    );
    assert!(
        raw(&format!("{}@{}", lab.mirror_repo(p), p.digest)).is_err(),
        "{} must not be at the mirror by digest",
        p.reference
    );
}

async fn image(fx: &Fixture, repo: &str) -> Pushed {
    fx.image(
        repo,
        Some("1"),
        Format::Oci,
        "amd64",
        &[Layer::Random(4096)],
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn only_images_whose_cosign_signature_verifies_are_mirrored() {
    let lab = Lab::new();
    let fx = Fixture::new(&lab.up);
    let good = image(&fx, "apps/good").await;
    let multi = fx
        .index(
            "apps/multi",
            Some("1"),
            Format::Oci,
            &["amd64", "arm64"],
            &[],
            2048,
        )
        .await;
    let stranger = image(&fx, "apps/stranger").await;
    let tampered = image(&fx, "apps/tampered").await;
    let elsewhere = image(&fx, "apps/elsewhere").await;
    let unsigned = image(&fx, "apps/unsigned").await;
    let plain = image(&fx, "tools/plain").await;
    push_signature(&lab, &fx, &good, Sig::By("cosign")).await;
    push_signature(&lab, &fx, &multi, Sig::By("cosign")).await;
    push_signature(&lab, &fx, &stranger, Sig::By("other")).await;
    push_signature(&lab, &fx, &tampered, Sig::Tampered).await;
    push_signature(&lab, &fx, &elsewhere, Sig::OtherDigest).await;
    let bad = [&stranger, &tampered, &elsewhere, &unsigned];
    lab.recipe(
        &[&good, &multi, &stranger, &tampered, &elsewhere, &unsigned],
        &[&plain],
    );

    // The plan shows one verification per signed image, gating its copy.
    let out = lab.run(&["plan", "-v"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert_eq!(text.matches("run    verify-cosign").count(), 6, "{text}");
    assert!(
        text.contains(&format!(
            "run    verify-cosign {}/apps/good@{} (trust ours) (never run)",
            fx.host(),
            good.digest
        )),
        "{text}"
    );

    let out = lab.run(&["build"]);
    assert_eq!(
        out.status.code(),
        Some(9),
        "exit 9 (verification): {}",
        stderr(&out)
    );
    let err = words(&out);
    // Every failing image is named with the key file and the reason, and its copy is not
    // attempted.
    for p in bad {
        assert!(
            says(
                &err,
                &format!(
                    "image {}/{}@{} (set `signed`) is not verified with cosign key keys/cosign.pub (trust `ours`)",
                    fx.host(),
                    p.repo,
                    p.digest,
                )
            ),
            "{} not reported: {err}",
            p.reference
        );
        assert!(
            says(&err, &format!("copy mirror {}: not attempted", p.reference)),
            "{err}"
        );
    }
    assert_eq!(
        err.matches(&squash(
            "bad signature: the signature does not verify with the cosign key"
        ))
        .count(),
        2,
        "another key and a tampered payload: {err}"
    );
    assert!(
        says(
            &err,
            &format!(
                "digest mismatch: the signature is for sha256:{}, not {}",
                "0".repeat(64),
                elsewhere.digest
            )
        ),
        "{err}"
    );
    assert!(
        says(
            &err,
            &format!(
                "no signature: the source has no signature tag `{}/apps/unsigned:{}.sig`",
                fx.host(),
                unsigned.digest.replace(':', "-")
            )
        ),
        "{err}"
    );

    // Verified images are mirrored with their signature; the others are nowhere at the mirror;
    // the image of the set without trust is copied.
    assert_mirrored(&lab, &good);
    assert_mirrored(&lab, &multi);
    assert_mirrored(&lab, &plain);
    for p in [&good, &multi] {
        let sig = format!("{}:{}.sig", lab.mirror_repo(p), p.digest.replace(':', "-"));
        let src_sig = format!(
            "{}:{}.sig",
            p.reference.rsplit_once(':').expect("tag").0,
            p.digest.replace(':', "-")
        );
        assert_eq!(
            raw(&sig).expect("signature copied"),
            raw(&src_sig).expect("source signature")
        );
    }
    for p in bad {
        assert_absent(&lab, p);
    }

    // A rerun verifies nothing it verified already: only the failed ones are still to run.
    let out = lab.run(&["plan", "-v"]);
    let text = stdout(&out);
    assert_eq!(text.matches("fresh  verify-cosign").count(), 2, "{text}");
    assert_eq!(text.matches("run    verify-cosign").count(), 4, "{text}");

    // Without the bad images the build is a no-op: nothing verified, nothing copied.
    lab.recipe(&[&good, &multi], &[&plain]);
    let out = lab.run(&["build"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("0 copied, 5 fresh"),
        "{}",
        stderr(&out)
    );
    let out = lab.run(&["plan"]);
    assert!(
        // 5 tasks of content, the cluster resources and the lock.
        stdout(&out).contains("plan: 0 to run, 7 fresh"),
        "{}",
        stdout(&out)
    );

    // --no-verify mirrors the unverified images, warning even under -q.
    lab.recipe(&[&good, &stranger, &unsigned], &[]);
    let out = lab.run(&["-q", "build", "--no-verify"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(
            "WARNING: --no-verify: cosign signatures are NOT verified (trust `ours` applies to `signed`)"
        ),
        "{}",
        stderr(&out)
    );
    assert_mirrored(&lab, &stranger);
    assert_mirrored(&lab, &unsigned);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_key_signing_for_any_trust_block_of_the_set_is_accepted_and_a_bad_key_file_is_refused() {
    let lab = Lab::new();
    let fx = Fixture::new(&lab.up);
    let app = image(&fx, "apps/app").await;
    push_signature(&lab, &fx, &app, Sig::By("other")).await;
    lab.recipe(&[&app], &[]);
    // A second trust block on the same set, with the key that signed.
    let recipe = lab.dir.path().join("airlift.kdl");
    let mut text = std::fs::read_to_string(&recipe).expect("recipe");
    text.push_str(
        "\ntrust \"theirs\" {\n    cosign-key \"keys/other.pub\"\n    applies-to \"signed\"\n}\n",
    );
    std::fs::write(&recipe, &text).expect("recipe");
    let out = lab.run(&["build"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_mirrored(&lab, &app);

    std::fs::write(lab.keys().join("other.pub"), "not a key").expect("key");
    let out = lab.run(&["plan"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let err = words(&out);
    assert!(
        says(
            &err,
            "trust `theirs`: the cosign key keys/other.pub is unusable"
        ),
        "{err}"
    );
}

/// One slow image does not hold back an independent image whose copy depends on a finished
/// verification. `apps/fast` is cosign-signed and trusted (its copy waits for its
/// verify-cosign task); `tools/slow` has no trust (its copy waits for nothing) and the GET of
/// its layer is held at a proxy gate in front of the source. While that GET is held, the
/// verified image must reach the mirror and the slow one must not; once the gate opens the
/// build finishes both. No timing assumptions: the only clock is a guard against a hang.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_held_transfer_does_not_hold_back_a_copy_whose_verification_finished() {
    let lab = Lab::new();
    let gated: Arc<OnceLock<String>> = Arc::default();
    let matcher = {
        let gated = gated.clone();
        Arc::new(move |m: &str, p: &str| {
            let path = p.split('?').next().unwrap_or(p);
            m == "GET" && gated.get().is_some_and(|g| g == path)
        })
    };
    let proxy = FaultProxy::start(
        &lab.up.host(),
        ProxyOptions {
            matcher,
            gate: true,
            ..ProxyOptions::passthrough()
        },
    )
    .await;
    // Pushed through the proxy: references and the signed identity name the proxy's host.
    let fx = Fixture::connect(&format!("http://{}", proxy.host()), None, None);
    let fast = image(&fx, "apps/fast").await;
    let slow = image(&fx, "tools/slow").await;
    push_signature(&lab, &fx, &fast, Sig::By("cosign")).await;
    let layer = &slow.blobs[1].digest;
    gated
        .set(format!("/v2/{}/blobs/{layer}", slow.repo))
        .expect("gate set once");
    lab.recipe(&[&fast], &[&slow]);

    let mirror = Fixture::new(&lab.mirror);
    let at_mirror = async |p: &Pushed| {
        mirror
            .manifest(
                &format!("mirror/{}", p.repo),
                p.tag.as_deref().expect("tagged"),
            )
            .await
            .is_some()
    };
    let mut build = lab.spawn(&["build"]);
    build
        .wait_until(
            "the GET of the slow image's layer at the gate",
            async || proxy.held() > 0,
        )
        .await;
    build
        .wait_until(
            "the verified image at the mirror while the slow image's layer is held",
            async || at_mirror(&fast).await,
        )
        .await;
    assert!(proxy.held() > 0, "the slow image's layer GET is still held");
    assert!(
        !at_mirror(&slow).await,
        "the slow image cannot be at the mirror while its layer is held"
    );

    proxy.open_gate();
    let code = build.finish().await;
    assert_eq!(code, Some(0), "build failed:\n{}", build.stderr());
    assert_mirrored(&lab, &fast);
    assert_mirrored(&lab, &slow);
}

/// `build --no-signatures` (#18, every flag shows its effect): the image is mirrored without
/// its cosign signature; a build without the flag then adds the signature.
#[tokio::test]
async fn no_signatures_mirrors_the_image_without_its_signature() {
    let lab = Lab::new();
    let fx = Fixture::new(&lab.up);
    let signed = image(&fx, "tools/signed").await;
    push_signature(&lab, &fx, &signed, Sig::By("cosign")).await;
    lab.recipe(&[], &[&signed]);
    let sig = format!(
        "{}:{}.sig",
        lab.mirror_repo(&signed),
        signed.digest.replace(':', "-")
    );
    let out = lab.run(&["build", "--no-signatures"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_mirrored(&lab, &signed);
    assert!(
        raw(&sig).is_err(),
        "--no-signatures leaves the signature behind"
    );
    let out = lab.run(&["build"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        raw(&sig).is_ok(),
        "without the flag the signature follows its image"
    );
}
