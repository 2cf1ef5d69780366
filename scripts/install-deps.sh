#!/bin/sh
# Install every Debian 12 package herd needs to build, test and run its lab: the one list.
# Installs only what is missing; as root it runs apt-get, otherwise it names what to install.
set -eu

PACKAGES="
g++ cmake ninja-build make pkg-config git
libssh-dev libssl-dev libcli11-dev libspdlog-dev libfmt-dev
libboost-dev libyaml-cpp-dev libsqlite3-dev nlohmann-json3-dev libarchive-dev
libgtest-dev libgmock-dev
openssh-server openssh-client tmux procps iproute2 sudo passwd tar gzip zstd
"

missing=""
for p in $PACKAGES; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing="$missing $p"
  fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "herd: missing packages:$missing (run as root, or: sudo apt-get install$missing)" >&2
  exit 1
fi
echo "herd: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
