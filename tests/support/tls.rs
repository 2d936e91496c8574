//! Self-signed CA and a server certificate for 127.0.0.1/localhost, generated with the
//! `openssl` CLI at test time. Writes only into the directory it is given.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Paths of the generated material.
pub struct TlsFiles {
    /// Directory holding only `ca.crt`: what `skopeo --cert-dir` and airlift `--cert-dir` take.
    pub cert_dir: PathBuf,
    pub ca_cert: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run `openssl` ({e}): apt-get install openssl"));
    assert!(
        out.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Generates a CA and a server certificate signed by it inside `dir`.
pub fn generate(dir: &Path) -> TlsFiles {
    let server = dir.join("server");
    let cert_dir = dir.join("certs");
    std::fs::create_dir_all(&server).expect("create tls dir");
    std::fs::create_dir_all(&cert_dir).expect("create cert dir");
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509"];
    ca.extend(ec);
    ca.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        "2",
        "-subj",
        "/CN=airlift-test-ca",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    openssl(&server, &ca);
    let mut csr = vec!["req"];
    csr.extend(ec);
    csr.extend([
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    openssl(&server, &csr);
    std::fs::write(
        server.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n\
         keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
    )
    .expect("write ext.cnf");
    openssl(
        &server,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.crt",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
        ],
    );
    std::fs::copy(server.join("ca.crt"), cert_dir.join("ca.crt")).expect("copy ca.crt");
    TlsFiles {
        ca_cert: cert_dir.join("ca.crt"),
        cert_dir,
        server_cert: server.join("server.crt"),
        server_key: server.join("server.key"),
    }
}
