#!/usr/bin/env bash
# Benchmark: one command (`true`) on one lab host, herd vs OpenSSH ssh with the same key and
# ssh_config. Prints wall time and client CPU (user+sys) per run and the ratios. Not a test.
#   bench/single_host.sh [HERD_BINARY] [RUNS]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
herd=${1:-$root/build/src/herd}
runs=${2:-50}
dir=$(mktemp -d /tmp/herd-bench-XXXXXX)
chmod 755 "$dir"
trap '"$root/tests/lab/lab" down "$dir/lab" >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT
"$root/tests/lab/lab" up "$dir/lab" --servers 1 --aliases 1 >/dev/null
# shellcheck disable=SC1091
. "$dir/lab/env"

measure() {  # label, command...: prints "label wall_ms cpu_ms" per run
  local label=$1; shift
  "$@" >/dev/null 2>&1 || { echo "$label failed" >&2; exit 1; }   # warm-up and sanity
  /usr/bin/time -f "%e %U %S" -o "$dir/time" bash -c '
    for _ in $(seq "$0"); do "$@" >/dev/null || exit 1; done' "$runs" "$@"
  read -r wall user sys <"$dir/time"
  awk -v l="$label" -v w="$wall" -v u="$user" -v s="$sys" -v n="$runs" \
    'BEGIN { printf "%-8s %8.2f %8.2f\n", l, 1000*w/n, 1000*(u+s)/n }'
}

echo "runs=$runs  command: true  host: lab1 (127.0.0.1, ed25519 key)"
printf '%-8s %8s %8s\n' tool wall_ms cpu_ms
{
  measure herd "$herd" run -F "$HERD_LAB_SSH_CONFIG" --no-agent lab1 -- true
  measure ssh ssh -F "$HERD_LAB_SSH_CONFIG" -o BatchMode=yes -n lab1 true
  # OpenSSH 9.2 picks the post-quantum sntrup761x25519 key exchange, which libssh 0.10 lacks;
  # this row gives ssh herd's curve25519 so the key exchange is like for like.
  measure ssh-c25 ssh -F "$HERD_LAB_SSH_CONFIG" -o BatchMode=yes -o KexAlgorithms=curve25519-sha256 \
    -n lab1 true
} | tee "$dir/results"
awk 'NR==1 {hw=$2; hc=$3} NR>1 {
       printf "herd/%s ratio: wall %.2fx  cpu %.2fx  (below 1 = herd is faster)\n", $1, hw/$2, hc/$3 }' \
  "$dir/results"
