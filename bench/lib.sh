# Shared by the bench scripts: loopback registries (CNCF distribution) and timing helpers.
# The caller sets REGISTRY_BIN and the `pids` array, and stops the registries in its exit trap.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# Not called in a $(…) subshell, so every registry's pid reaches the exit trap.
start_registry() {
  local dir=$1
  port=$(free_port)
  mkdir -p "$dir/data"
  cat > "$dir/config.yml" <<YAML
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $dir/data}, delete: {enabled: true}}
http: {addr: 127.0.0.1:$port}
YAML
  "$REGISTRY_BIN" serve "$dir/config.yml" >"$dir/log" 2>&1 &
  pids+=($!)
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
