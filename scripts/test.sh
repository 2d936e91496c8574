#!/usr/bin/env bash
# Runs airlift's whole test suite: unit tests, snapshot tests, and integration tests against real
# registries (CNCF distribution, started by the tests on loopback ports) checked with skopeo.
# Needs: docker-registry, skopeo, gnupg, openssl, python3 with PyYAML and jsonschema
# (`.ci/run` installs them on Debian).
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
for bin in docker-registry skopeo gpg openssl python3; do
  command -v "$bin" >/dev/null 2>&1 || [ -x "/usr/bin/$bin" ] || missing+=("$bin")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "missing tools: ${missing[*]}" >&2
  echo "install them with: sudo apt-get install -y docker-registry skopeo gnupg openssl python3-yaml python3-jsonschema" >&2
  exit 1
fi
INSTA_UPDATE=no cargo test --locked --all-targets "$@"
