#!/usr/bin/env bash
# Benchmark: airlift build vs skopeo sync on the same local workload, in the same run.
#
#   bench/copy-vs-skopeo.sh [--images 40] [--total-mb 350] [--rounds 2] [--rss-mb 1024]
#
# Workload: a loopback source registry (CNCF distribution) seeded with N images of ~M MiB in
# total, with shared base layers, multi-arch indexes and Docker/OCI media types
# (examples/seed.rs). Each round gives each tool a fresh, empty destination registry and (for
# skopeo) a fresh blob-info cache, then times:
#   cold  — the first copy of everything;
#   no-op — the same command again with nothing new.
# It prints the median of each, and the ratios airlift/skopeo. Finally it measures airlift's peak
# RSS while copying one image with a single --rss-mb MiB layer.
# Nothing leaves 127.0.0.1. Needs docker-registry and skopeo (apt-get install docker-registry skopeo).
set -euo pipefail
cd "$(dirname "$0")/.."
images=40 total=350 rounds=2 rss_mb=1024
while [ $# -gt 0 ]; do
  case "$1" in
    --images) images=$2; shift 2 ;;
    --total-mb) total=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --rss-mb) rss_mb=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done

REGISTRY_BIN=$(command -v docker-registry || echo /usr/bin/docker-registry)
[ -x "$REGISTRY_BIN" ] || { echo "docker-registry missing: apt-get install docker-registry" >&2; exit 1; }
command -v skopeo >/dev/null || { echo "skopeo missing: apt-get install skopeo" >&2; exit 1; }

echo "building (release)…" >&2
cargo build --quiet --release --bin airlift --example seed
airlift=$PWD/target/release/airlift
seed=$PWD/target/release/examples/seed

work=$(mktemp -d /tmp/airlift-bench.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

source "$(dirname "$0")/lib.sh"

start_registry "$work/src"; src=$port
echo "seeding $images images (~$total MiB) into 127.0.0.1:$src…" >&2
"$seed" --registry "127.0.0.1:$src" --images "$images" --total-mb "$total" --prefix bench > "$work/refs.txt"
size=$(du -sm "$work/src/data" | cut -f1)

# skopeo sync input: repositories and their tags.
python3 - "$work/refs.txt" "127.0.0.1:$src" > "$work/sync.yaml" <<'PY'
import sys, collections
refs = [l.strip() for l in open(sys.argv[1]) if l.strip()]
repos = collections.defaultdict(list)
for r in refs:
    name, tag = r.split("/", 1)[1].rsplit(":", 1)
    repos[name].append(tag)
print(f"{sys.argv[2]}:\n  tls-verify: false\n  images:")
for name in sorted(repos):
    print(f"    {name}: [{', '.join(sorted(repos[name]))}]")
PY

skopeo_cache() { rm -f /var/lib/containers/cache/blob-info-cache-v1.boltdb "${XDG_DATA_HOME:-$HOME/.local/share}/containers/cache/blob-info-cache-v1.boltdb"; }

declare -a a_cold a_noop s_cold s_noop
for round in $(seq 1 "$rounds"); do
  # skopeo
  start_registry "$work/s$round"; d=$port; skopeo_cache
  run_skopeo() { skopeo sync --all --preserve-digests --src yaml --dest docker --dest-tls-verify=false \
      "$work/sync.yaml" "127.0.0.1:$d/mirror" >"$work/skopeo.log" 2>&1 || { tail -n 20 "$work/skopeo.log" >&2; exit 1; }; }
  t0=$(now); run_skopeo; t1=$(now); run_skopeo; t2=$(now)
  s_cold+=("$(elapsed "$t0" "$t1")"); s_noop+=("$(elapsed "$t1" "$t2")")
  # airlift
  start_registry "$work/a$round"; d=$port
  mkdir -p "$work/r$round"
  { echo 'images "bench" {'; sed 's/.*/    image "&"/' "$work/refs.txt"; echo '}';
    echo "target \"mirror\" \"docker://127.0.0.1:$d/mirror\" { needs \"bench\"; }"; } > "$work/r$round/airlift.kdl"
  run_airlift() { "$airlift" -q -f "$work/r$round/airlift.kdl" --src-tls-verify=false --dest-tls-verify=false build; }
  t0=$(now); run_airlift; t1=$(now); run_airlift; t2=$(now)
  a_cold+=("$(elapsed "$t0" "$t1")"); a_noop+=("$(elapsed "$t1" "$t2")")
  first=$(head -n1 "$work/refs.txt")
  cmp -s <(skopeo inspect --raw --tls-verify=false "docker://$first") \
         <(skopeo inspect --raw --tls-verify=false "docker://127.0.0.1:$d/mirror/${first#*/}") \
    || { echo "airlift's copy of $first differs" >&2; exit 1; }
  echo "round $round: skopeo cold ${s_cold[-1]}s no-op ${s_noop[-1]}s | airlift cold ${a_cold[-1]}s no-op ${a_noop[-1]}s" >&2
done

sc=$(median "${s_cold[@]}"); sn=$(median "${s_noop[@]}")
ac=$(median "${a_cold[@]}"); an=$(median "${a_noop[@]}")
echo
echo "workload: $images images, $(wc -l < "$work/refs.txt") tags, ${size} MiB stored at the source; $rounds round(s), medians"
printf '%-8s %10s %10s\n' "" "cold (s)" "no-op (s)"
printf '%-8s %10s %10s\n' skopeo "$sc" "$sn"
printf '%-8s %10s %10s\n' airlift "$ac" "$an"
echo "ratio airlift/skopeo: cold $(ratio "$ac" "$sc") (goal <= 0.40), no-op $(ratio "$an" "$sn") (goal <= 0.10)"

# Requests per run, as airlift counts them (the build-summary event): a fresh destination,
# cold then no-op.
start_registry "$work/req"; d=$port
mkdir -p "$work/req-r"
{ echo 'images "bench" {'; sed 's/.*/    image "&"/' "$work/refs.txt"; echo '}';
  echo "target \"mirror\" \"docker://127.0.0.1:$d/mirror\" { needs \"bench\"; }"; } > "$work/req-r/airlift.kdl"
count_requests() {
  "$airlift" -f "$work/req-r/airlift.kdl" --src-tls-verify=false --dest-tls-verify=false \
      --message-format json build 2>/dev/null | python3 -c '
import json, sys
s = [json.loads(l) for l in sys.stdin if l.startswith("{")][-1]
by = {}
for r in s["requests"]:
    by[r["side"]] = by.get(r["side"], 0) + r["requests"]
print(sum(by.values()), "in all:", ", ".join(f"{k} {v}" for k, v in sorted(by.items())))'
}
echo "airlift requests, cold: $(count_requests)"
echo "airlift requests, no-op: $(count_requests)"

if [ "$rss_mb" -gt 0 ]; then
  start_registry "$work/big"; big=$port; start_registry "$work/bigdst"; dst=$port
  "$seed" --registry "127.0.0.1:$big" --images 1 --total-mb "$rss_mb" --shared-base-mb 0 --prefix big > "$work/big.txt"
  mkdir -p "$work/rss"
  { echo 'images "big" {'; sed 's/.*/    image "&"/' "$work/big.txt"; echo '}';
    echo "target \"mirror\" \"docker://127.0.0.1:$dst/mirror\" { needs \"big\"; }"; } > "$work/rss/airlift.kdl"
  kb=$(/usr/bin/time -f %M "$airlift" -q -f "$work/rss/airlift.kdl" --src-tls-verify=false --dest-tls-verify=false build 2>&1 >/dev/null | tail -n1)
  echo "peak RSS of airlift build copying one ${rss_mb} MiB layer: $((kb / 1024)) MiB (goal < 100 MiB)"
fi
