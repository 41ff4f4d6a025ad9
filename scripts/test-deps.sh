#!/usr/bin/env bash
# The Debian packages the tests use, installed when missing: .ci/run calls this, and so does
# `npm test` (its pretest hook), so the README's test command works on a fresh machine.
#   chromium: the dashboard's browser tests (playwright-core drives Debian's Chromium).
#   openssh-server, openssh-client: the ssh driver's tests (a real sshd on 127.0.0.1, started by
#   the test itself; the package's own service is kept from starting, see policy-rc.d below).
#   tmux: the terminal journeys (a real terminal: Ctrl-C, the point-of-no-return questions).
#   postgresql: the PostgreSQL store's tests (each starts its own server with initdb/pg_ctl on
#   127.0.0.1 in a temporary directory; the package's own cluster is not made, nor its service run).
#   iproute2: `ip netns` for the two-host failover test (test/cli/ha-netns.test.ts: network
#   namespaces on a private bridge subnet that exists only inside this machine; skipped without root).
set -euo pipefail
needed=(chromium openssh-server openssh-client tmux postgresql iproute2)
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
# No service may start from a package install (openssh-server would listen on port 22 of every
# address): policy-rc.d answers 101 ("not allowed") while this runs, unless one is in place already.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod +x "$policy"
  trap 'rm -f "$policy"' EXIT
  trap 'rm -f "$policy"; exit 130' INT TERM
fi
# …and the ssh service stays off for good (the tests start an sshd of their own on 127.0.0.1):
# Debian's ssh.service and ssh.socket do not start while this file exists
case " ${missing[*]} " in
*" openssh-server "*) mkdir -p /etc/ssh && touch /etc/ssh/sshd_not_to_be_run ;;
esac
# …and postgresql-common makes no cluster of its own (no /var/lib/postgresql/<ver>/main listening on 5432)
case " ${missing[*]} " in
*" postgresql "*)
  mkdir -p /etc/postgresql-common
  [ -e /etc/postgresql-common/createcluster.conf ] ||
    printf 'create_main_cluster = false\n' >/etc/postgresql-common/createcluster.conf
  ;;
esac
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
