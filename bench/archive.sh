#!/usr/bin/env bash
# Benchmark: crossing the air gap. On the W40 workload of bench/copy-vs-skopeo.sh (a loopback
# source registry seeded by examples/seed.rs), each round times, with fresh destinations:
#   direct  — airlift build of a registry target (mirror-to-mirror);
#   m2d+d2m — airlift build of a file:// target (mirror-to-disk), then, in a fresh workspace
#             that has only the archive directory, the registry target that needs it;
#   skopeo  — skopeo sync to a dir: layout, then from it to a registry.
# It prints medians, the ratios (m2d+d2m)/direct and (m2d+d2m)/skopeo, the archive's bytes
# against the bytes of the blobs it carries, and airlift's peak RSS packing and unpacking an
# image with one --rss-mb MiB layer. Nothing leaves 127.0.0.1.
#
#   bench/archive.sh [--images 40] [--total-mb 350] [--rounds 3] [--rss-mb 1024]
set -euo pipefail
cd "$(dirname "$0")/.."
images=40 total=350 rounds=3 rss_mb=1024
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
bench_setup archive-bench skopeo
flags=(-q --src-tls-verify=false --dest-tls-verify=false)

start_registry "$work/src"; src=$port
echo "seeding $images images (~$total MiB) into 127.0.0.1:$src…" >&2
"$seed" --registry "127.0.0.1:$src" --images "$images" --total-mb "$total" --prefix bench > "$work/refs.txt"
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
# recipe DIR DEST DISK: the images, a disk target and the registry targets.
recipe() {
  mkdir -p "$1"
  { images_block bench "$work/refs.txt";
    echo "target \"disk\" \"file://$3\" { needs \"bench\"; archive-size \"1GiB\"; }"
    echo "target \"enterprise\" \"docker://127.0.0.1:$2/mirror\" { needs \"disk\"; }"
    echo "target \"direct\" \"docker://127.0.0.1:$2/direct\" { needs \"bench\"; }"; } > "$1/airlift.kdl"
}

declare -a direct gap sko
for round in $(seq 1 "$rounds"); do
  start_registry "$work/d$round"; d=$port
  recipe "$work/r$round" "$d" "$work/disk$round"
  t0=$(now); "$airlift" "${flags[@]}" -f "$work/r$round/airlift.kdl" build direct; t1=$(now)
  direct+=("$(elapsed "$t0" "$t1")")
  start_registry "$work/g$round"; g=$port
  recipe "$work/g$round/a" "$g" "$work/disk-g$round"
  recipe "$work/g$round/b" "$g" "$work/disk-g$round"
  t0=$(now)
  "$airlift" "${flags[@]}" -f "$work/g$round/a/airlift.kdl" build disk
  "$airlift" "${flags[@]}" -f "$work/g$round/b/airlift.kdl" build enterprise
  t1=$(now)
  gap+=("$(elapsed "$t0" "$t1")")
  first=$(head -n1 "$work/refs.txt")
  cmp -s <(skopeo inspect --raw --tls-verify=false "docker://$first") \
         <(skopeo inspect --raw --tls-verify=false "docker://127.0.0.1:$g/mirror/${first#*/}") \
    || { echo "the disk-to-mirror copy of $first differs" >&2; exit 1; }
  start_registry "$work/s$round"; s=$port
  rm -f /var/lib/containers/cache/blob-info-cache-v1.boltdb
  t0=$(now)
  skopeo sync --all --preserve-digests --src yaml --dest dir "$work/sync.yaml" "$work/sdir$round" >"$work/skopeo.log" 2>&1 \
    || { tail -n 20 "$work/skopeo.log" >&2; exit 1; }
  skopeo sync --all --preserve-digests --src dir --dest docker --dest-tls-verify=false \
      "$work/sdir$round" "127.0.0.1:$s/mirror" >"$work/skopeo.log" 2>&1 \
    || { tail -n 20 "$work/skopeo.log" >&2; exit 1; }
  t1=$(now)
  sko+=("$(elapsed "$t0" "$t1")")
  echo "round $round: direct ${direct[-1]}s | m2d+d2m ${gap[-1]}s | skopeo dir ${sko[-1]}s" >&2
done

dm=$(median "${direct[@]}"); gm=$(median "${gap[@]}"); sm=$(median "${sko[@]}")
read -r chunk_bytes blob_bytes < <(python3 - "$work/disk-g1/airlift-index.json" <<'PY'
import json, sys
a = json.load(open(sys.argv[1]))["archives"][0]
print(sum(c["size"] for c in a["chunks"]), a["blob_bytes"])
PY
)
echo
echo "workload: $images images, $(wc -l < "$work/refs.txt") tags; $rounds round(s), medians"
printf '%-22s %8s s\n' "airlift direct" "$dm" "airlift m2d + d2m" "$gm" "skopeo to dir and back" "$sm"
echo "ratio (m2d+d2m)/direct: $(ratio "$gm" "$dm") (goal <= 1.5); (m2d+d2m)/skopeo: $(ratio "$gm" "$sm") (goal <= 0.5)"
echo "archive bytes $chunk_bytes for $blob_bytes bytes of blobs: overhead $(python3 -c "print(f'{($chunk_bytes/$blob_bytes-1)*100:.2f}')")% (goal <= 1%)"

if [ "$rss_mb" -gt 0 ]; then
  start_registry "$work/big"; big=$port; start_registry "$work/bigdst"; dst=$port
  "$seed" --registry "127.0.0.1:$big" --images 1 --total-mb "$rss_mb" --shared-base-mb 0 --prefix big > "$work/big.txt"
  for side in a b; do
    mkdir -p "$work/rss/$side"
    { images_block big "$work/big.txt";
      echo "target \"disk\" \"file://$work/rss/disk\" { needs \"big\"; archive-size \"2GiB\"; }"
      echo "target \"enterprise\" \"docker://127.0.0.1:$dst/mirror\" { needs \"disk\"; }"; } > "$work/rss/$side/airlift.kdl"
  done
  kb_pack=$(/usr/bin/time -f %M "$airlift" "${flags[@]}" -f "$work/rss/a/airlift.kdl" build disk 2>&1 >/dev/null | tail -n1)
  kb_unpack=$(/usr/bin/time -f %M "$airlift" "${flags[@]}" -f "$work/rss/b/airlift.kdl" build enterprise 2>&1 >/dev/null | tail -n1)
  echo "peak RSS with one ${rss_mb} MiB layer: packing $((kb_pack / 1024)) MiB, unpacking $((kb_unpack / 1024)) MiB (goal < 100 MiB)"
fi
