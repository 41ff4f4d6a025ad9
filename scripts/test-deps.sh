#!/usr/bin/env bash
# The Debian packages the tests use, installed when missing: .ci/run calls this, and so does
# `npm test` (its pretest hook), so the README's test command works on a fresh machine.
#   chromium: the dashboard's browser tests (playwright-core drives Debian's Chromium).
set -euo pipefail
needed=(chromium)
missing=()
for pkg in "${needed[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
[ "${#missing[@]}" -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "The tests need these Debian packages: ${missing[*]}. Install them with: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "Installing the Debian packages the tests need: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
