#!/usr/bin/env bash
# Benchmark: how airlift's peak RSS grows with the number of images in a cold build.
#
#   bench/memory-per-image.sh [--small 200] [--large 2000]
#
# Seeds a loopback source registry (CNCF distribution) with --large small images
# (examples/seed.rs, 0.1 MiB each on average), then runs a cold `airlift build` of the first
# --small of them and of all of them, each into an empty destination registry, and prints each
# peak RSS (/usr/bin/time) and the growth per image between the two: the figure that says how
# large a build fits in memory (goal: under 10 KiB per image, so 20,000 images stay under
# 250 MiB). Nothing leaves 127.0.0.1. Needs docker-registry (apt-get install docker-registry).
set -euo pipefail
cd "$(dirname "$0")/.."
small=200 large=2000
while [ $# -gt 0 ]; do
  case "$1" in
    --small) small=$2; shift 2 ;;
    --large) large=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
[ "$small" -lt "$large" ] || { echo "--small must be below --large" >&2; exit 2; }
source "$(dirname "$0")/lib.sh"
bench_setup mem

start_registry "$work/src"; src=$port
echo "seeding $large images into 127.0.0.1:$src…" >&2
"$seed" --registry "127.0.0.1:$src" --images "$large" --total-mb $((large / 10)) --prefix bench > "$work/refs.txt"

# peak N: sets `rss` to the peak RSS (KiB) of a cold build of the first N images. Not called in
# a $(…) subshell, so the registry it starts reaches the exit trap.
peak() {
  local n=$1 dir=$work/run$1
  start_registry "$dir"; local d=$port
  { images_block bench "$work/refs.txt" "$n";
    echo "target \"mirror\" \"docker://127.0.0.1:$d/mirror\" { needs \"bench\"; }"; } > "$dir/airlift.kdl"
  /usr/bin/time -f %M -o "$dir/rss.txt" "$airlift" -q -f "$dir/airlift.kdl" \
    --src-tls-verify=false --dest-tls-verify=false build
  rss=$(tail -n1 "$dir/rss.txt")
}
peak "$small"; a=$rss
peak "$large"; b=$rss
echo "peak RSS, cold build: $small images $((a / 1024)) MiB, $large images $((b / 1024)) MiB"
echo "growth: $(python3 -c "print(f'{($b - $a) / ($large - $small):.1f}')") KiB per image (goal < 10)"
