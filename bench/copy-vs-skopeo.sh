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
# It prints the median of each, the ratios airlift/skopeo, the HTTP requests both registries
# answered (their access logs) and the TCP connections each run opened, and airlift's peak RSS
# in the cold build (how it grows per image: bench/memory-per-image.sh). Finally it measures
# airlift's peak RSS while copying one image with a single --rss-mb MiB layer (--rss-mb 0 skips
# it). 2,000 small images:
#   bench/copy-vs-skopeo.sh --images 2000 --total-mb 200 --rss-mb 0
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

source "$(dirname "$0")/lib.sh"
bench_setup bench skopeo

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
# run LABEL DEST_DIR CMD…: times CMD (into $last) and records the requests both registries
# answered and the TCP connections opened while it ran.
declare -A counted registry_cpu
run() {
  local label=$1 dst=$2; shift 2
  local r0s r0d c0 t0 t1 p0s p0d
  r0s=$(requests_of "$work/src"); r0d=$(requests_of "$dst"); c0=$(tcp_opens)
  p0s=$(cpu_of "$work/src"); p0d=$(cpu_of "$dst"); t0=$(now)
  local own0; own0=$(children_cpu)
  "$@"
  t1=$(now)
  local own; own=$(elapsed "$own0" "$(children_cpu)")
  local rs=$(( $(requests_of "$work/src") - r0s )) rd=$(( $(requests_of "$dst") - r0d ))
  counted[$label]="$((rs + rd)) requests (source $rs, destination $rd), $(( $(tcp_opens) - c0 )) connections"
  registry_cpu[$label]="$label itself $own s; registries: source $(elapsed "$p0s" "$(cpu_of "$work/src")") s, destination $(elapsed "$p0d" "$(cpu_of "$dst")") s"
  last=$(elapsed "$t0" "$t1")
}
for round in $(seq 1 "$rounds"); do
  # skopeo
  start_registry "$work/s$round"; d=$port; skopeo_cache
  run_skopeo() { skopeo sync --all --preserve-digests --src yaml --dest docker --dest-tls-verify=false \
      "$work/sync.yaml" "127.0.0.1:$d/mirror" >"$work/skopeo.log" 2>&1 || { tail -n 20 "$work/skopeo.log" >&2; exit 1; }; }
  run "skopeo cold" "$work/s$round" run_skopeo; s_cold+=("$last")
  run "skopeo no-op" "$work/s$round" run_skopeo; s_noop+=("$last")
  # airlift
  start_registry "$work/a$round"; d=$port
  mkdir -p "$work/r$round"
  { images_block bench "$work/refs.txt";
    echo "target \"mirror\" \"docker://127.0.0.1:$d/mirror\" { needs \"bench\"; }"; } > "$work/r$round/airlift.kdl"
  run_airlift() { /usr/bin/time -f %M -o "$work/rss.txt" "$airlift" -q -f "$work/r$round/airlift.kdl" \
      --src-tls-verify=false --dest-tls-verify=false build; }
  run "airlift cold" "$work/a$round" run_airlift; a_cold+=("$last"); cold_rss=$(tail -n1 "$work/rss.txt")
  run "airlift no-op" "$work/a$round" run_airlift; a_noop+=("$last")
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
echo "ratio airlift/skopeo: cold $(ratio "$ac" "$sc"), no-op $(ratio "$an" "$sn")"
# Requests from the registries' access logs, and connections opened, in the last round.
for k in "skopeo cold" "airlift cold" "skopeo no-op" "airlift no-op"; do
  printf '%-14s %s\n' "$k:" "${counted[$k]}"
done
# CPU the registries spent serving each run: on a small machine they share the cores with the
# tool, so this bounds how fast any client can be here.
for k in "skopeo cold" "airlift cold"; do
  printf '%-14s %s\n' "$k:" "CPU: ${registry_cpu[$k]}"
done
echo "peak RSS of airlift's cold build: $((cold_rss / 1024)) MiB (growth per image: bench/memory-per-image.sh)"

if [ "$rss_mb" -gt 0 ]; then
  start_registry "$work/big"; big=$port; start_registry "$work/bigdst"; dst=$port
  "$seed" --registry "127.0.0.1:$big" --images 1 --total-mb "$rss_mb" --shared-base-mb 0 --prefix big > "$work/big.txt"
  mkdir -p "$work/rss"
  { images_block big "$work/big.txt";
    echo "target \"mirror\" \"docker://127.0.0.1:$dst/mirror\" { needs \"big\"; }"; } > "$work/rss/airlift.kdl"
  kb=$(/usr/bin/time -f %M "$airlift" -q -f "$work/rss/airlift.kdl" --src-tls-verify=false --dest-tls-verify=false build 2>&1 >/dev/null | tail -n1)
  echo "peak RSS of airlift build copying one ${rss_mb} MiB layer: $((kb / 1024)) MiB (goal < 100 MiB)"
fi
