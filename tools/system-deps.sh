#!/usr/bin/env bash
# Makes sure the named Debian packages are installed: with apt-get when running as root,
# otherwise prints the one command that does it. Never fails the build: the app falls back to its own synth.
set -u
missing=()
for package in "$@"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "Installing Debian packages: ${missing[*]}"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}") >/tmp/groove-explorer-apt.log 2>&1 \
    || { echo "apt-get failed (see /tmp/groove-explorer-apt.log)"; exit 0; }
else
  echo "Missing Debian packages: ${missing[*]}. Install them with:"
  echo "  sudo apt-get install --no-install-recommends ${missing[*]}"
fi
