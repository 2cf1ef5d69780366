#!/usr/bin/env bash
# `make demo`: start a lab of real OpenSSH hosts on loopback, run herd across them, stop the lab.
set -euo pipefail
herd=${1:-build/src/herd}
root=$(cd "$(dirname "$0")/.." && pwd)
lab="$root/tests/lab/lab"
dir=$(mktemp -d /tmp/herd-demo-XXXXXX)
chmod 755 "$dir"   # the lab user must traverse it to read its authorized keys
trap '"$lab" down "$dir/lab" >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT

echo "==> starting a lab: 2 OpenSSH servers on 127.0.0.1, host aliases web01..web08"
"$lab" up "$dir/lab" --servers 2 --aliases 8 >/dev/null
# shellcheck disable=SC1091
. "$dir/lab/env"
cfg=$HERD_LAB_SSH_CONFIG
export XDG_DATA_HOME="$dir/data"   # the demo's job history stays in the demo's directory

step() { printf '\n$ %s\n' "$*"; "$@" || echo "(exit $?)"; }

step "$herd" run -F "$cfg" 'web[01-08]' -- 'echo "$(id -un)@$(uname -n): up $(cut -d. -f1 /proc/uptime)s"'
step "$herd" run -F "$cfg" -b 'web[01-08]' -- 'echo "served on port ${SSH_CONNECTION##* }"'
step "$herd" run -F "$cfg" 'web[01-04]' -x web02 -- 'echo to stdout; echo to stderr >&2; exit 3'
step "$herd" run -F "$cfg" --command-timeout 1 web02,web03 -- 'sleep 60'
step "$herd" run -F "$cfg" -e HERD_GREETING='hello from herd' web03 -- 'echo "$HERD_GREETING"'
step "$herd" nodes --inventory "$HERD_LAB_INVENTORY" -c @lab
step "$herd" run -i "$HERD_LAB_INVENTORY" --known-hosts "$HERD_LAB_KNOWN_HOSTS" \
  --host-key-policy strict --no-agent --no-default-keys '@lab!web0[5-8]' -- 'uname -s'
step "$herd" run -F "$cfg" -J lab1 web05,web06 -- 'echo "reached through the jump host lab1"'
# Files: the lab's hosts share this machine's disk; remote paths are in the lab user's home.
rhome=$("$herd" run -F "$cfg" web01 -- pwd)
head -c 20000000 /dev/urandom >"$dir/release.bin"
mkdir -p "$dir/site/css" && echo '<h1>herd</h1>' >"$dir/site/index.html" && echo 'h1{}' >"$dir/site/css/a.css"
step "$herd" put -F "$cfg" 'web[01-08]' "$dir/release.bin" "$rhome/"
step "$herd" get -F "$cfg" 'web[01-03]' "$rhome/release.bin" "$dir/collected"
step "$herd" sync -F "$cfg" 'web[01-02]' "$dir/site" "$rhome/site"
echo 'h1{color:red}' >"$dir/site/css/a.css"
step "$herd" sync -F "$cfg" --dry-run 'web[01-02]' "$dir/site" "$rhome/site"
# Tasks: a herdfile with parameters, a cd block, a registered value and a when:, 2 hosts a batch.
cat >"$dir/herdfile.yaml" <<EOF
tasks:
  deploy:
    description: switch every host to a version, 2 hosts at a time
    hosts: 'web[01-06]'
    serial: 2
    params:
      version: {required: true}
    steps:
      - run: mkdir -p $rhome/app/{{ host.name }}/releases/{{ version }}
      - cd: $rhome/app/{{ host.name }}
        steps:
          - run: printf '%s\n' {{ version }} > releases/{{ version }}/VERSION && ln -sfn releases/{{ version }} current
          - run: cat current/VERSION
            register: live
          - run: echo "{{ host.name }} now runs {{ live.stdout }}"
            when: live.stdout == version
EOF
step "$herd" task -f "$dir/herdfile.yaml" --list
step "$herd" task -f "$dir/herdfile.yaml" -H web01 deploy version='1.2 $(rm -rf /)' --dry-run
step "$herd" task -f "$dir/herdfile.yaml" -F "$cfg" deploy:version=1.2.3
step "$herd" jobs
echo
echo "==> a changed host key is refused (server 1 restarted with new keys):"
cp "$HERD_LAB_KNOWN_HOSTS" "$dir/known_hosts.before"
"$lab" rekey "$dir/lab" 1 >/dev/null
step "$herd" run -F "$cfg" --known-hosts "$dir/known_hosts.before" lab1 -- true
echo
echo "demo done; 'tests/lab/lab up DIR' starts a lab you can keep (see tests/lab/README.md)"
