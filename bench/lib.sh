# Shared by the bench scripts: loopback registries (CNCF distribution) with access logs, timing
# helpers, and counters of HTTP requests (from the registries' access logs) and TCP connections
# opened (the kernel's count; nothing else opens connections on a quiet bench machine).
# A script sources it, then calls `bench_setup NAME [TOOL…]` once.
declare -A registry_pid
# bench_setup NAME [TOOL…]: checks docker-registry and each TOOL are installed, builds airlift and
# the seeder in release mode (`$airlift`, `$seed`), makes the scratch directory `$work`, and
# installs the exit trap that stops every registry started (`$pids`) and removes `$work`.
bench_setup() {
  local name=$1 tool; shift
  REGISTRY_BIN=$(command -v docker-registry || echo /usr/bin/docker-registry)
  [ -x "$REGISTRY_BIN" ] || { echo "docker-registry missing: apt-get install docker-registry" >&2; exit 1; }
  for tool in "$@"; do
    command -v "$tool" >/dev/null || { echo "$tool missing: apt-get install $tool" >&2; exit 1; }
  done
  echo "building (release)…" >&2
  cargo build --quiet --release --bin airlift --example seed
  airlift=$PWD/target/release/airlift
  seed=$PWD/target/release/examples/seed
  work=$(mktemp -d "/tmp/airlift-$name.XXXXXX")
  pids=()
  trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"' EXIT
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# Not called in a $(…) subshell, so every registry's pid reaches the exit trap.
start_registry() {
  local dir=$1
  port=$(free_port)
  mkdir -p "$dir/data"
  cat > "$dir/config.yml" <<YAML
version: 0.1
log: {level: error, accesslog: {disabled: false}}
storage: {filesystem: {rootdirectory: $dir/data}, delete: {enabled: true}}
http: {addr: 127.0.0.1:$port}
YAML
  "$REGISTRY_BIN" serve "$dir/config.yml" >"$dir/log" 2>&1 &
  pids+=($!)
  registry_pid[$dir]=$!
  for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$port/v2/" >/dev/null 2>&1 && return
    sleep 0.1
  done
  echo "registry in $dir did not start" >&2; exit 1
}
now() { date +%s.%N; }
elapsed() { python3 -c "print(f'{$2-$1:.3f}')"; }
median() { python3 -c "import statistics,sys; print(f'{statistics.median(map(float,sys.argv[1:])):.3f}')" "$@"; }
ratio() { python3 -c "print(f'{$1/$2:.2f}')"; }
# images_block SET REFS_FILE [COUNT]: a recipe's `images` set of the refs in REFS_FILE (the
# first COUNT of them when given), one `image` line each.
images_block() {
  echo "images \"$1\" {"
  head -n "${3:-$(wc -l < "$2")}" "$2" | sed 's/.*/    image "&"/'
  echo '}'
}
# Requests a registry has answered so far (lines of its access log).
requests_of() { grep -cE '"(GET|HEAD|PUT|POST|PATCH|DELETE) ' "$1/log" || true; }
# TCP connections this machine has opened so far (ActiveOpens in /proc/net/snmp).
tcp_opens() { awk '/^Tcp:/ { if (!h) { for (i = 1; i <= NF; i++) if ($i == "ActiveOpens") c = i; h = 1 } else print $c }' /proc/net/snmp; }
# CPU seconds (user + system) the registry serving DIR has used so far.
cpu_of() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f\n", ($14 + $15) / hz }' "/proc/${registry_pid[$1]}/stat"; }
# CPU seconds the children this shell has waited for have used so far (the tool being timed).
children_cpu() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f\n", ($16 + $17) / hz }' "/proc/$$/stat"; }
