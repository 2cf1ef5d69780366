#!/usr/bin/env bash
# `make demo`: start a lab of real OpenSSH hosts on loopback, run herd across them, stop the lab.
set -euo pipefail
herd=${1:-build/src/herd}
root=$(cd "$(dirname "$0")/.." && pwd)
lab="$root/tests/lab/lab"
dir=$(mktemp -d /tmp/herd-demo-XXXXXX)
chmod 755 "$dir"   # the lab user must traverse it to read its authorized keys
trap '"$lab" down "$dir/lab" >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT

echo "==> starting a lab: 2 OpenSSH servers on 127.0.0.1, host aliases web01..web04"
"$lab" up "$dir/lab" --servers 2 --aliases 4 >/dev/null
# shellcheck disable=SC1091
. "$dir/lab/env"
cfg=$HERD_LAB_SSH_CONFIG

step() { printf '\n$ %s\n' "$*"; "$@" || echo "(exit $?)"; }

for host in $HERD_LAB_ALIASES; do
  step "$herd" run -F "$cfg" "$host" -- 'echo "$(id -un)@$(uname -n): up $(cut -d. -f1 /proc/uptime)s"'
done
step "$herd" run -F "$cfg" web01 -- 'echo to stdout; echo to stderr >&2; exit 3'
step "$herd" run -F "$cfg" --command-timeout 1 web02 -- 'sleep 60'
step "$herd" run -F "$cfg" -e HERD_GREETING='hello from herd' web03 -- 'echo "$HERD_GREETING"'
echo
echo "==> a changed host key is refused (server 1 restarted with new keys):"
"$lab" rekey "$dir/lab" 1 >/dev/null
step "$herd" run -F "$cfg" lab1 -- true
echo
echo "demo done; 'tests/lab/lab up DIR' starts a lab you can keep (see tests/lab/README.md)"
