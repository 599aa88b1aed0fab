#!/usr/bin/env bash
# Installs every Debian package mip4-mobike needs to build, test and run its demo.
# Idempotent: installs only what is missing. Starts no system service (policy-rc.d forbids it).
set -euo pipefail

packages=(
  # build
  meson ninja-build pkg-config gcc clang libclang-rt-14-dev
  libssl-dev libnl-3-dev libnl-route-3-dev libglib2.0-dev libnm-dev
  # mnd's fail-closed filter (mnd/failclosed.c)
  libnftables-dev
  # mnd's D-Bus status API: a private system bus in tests (dbus-daemon), busctl and
  # dbus-send as independent clients, setpriv for the unprivileged user
  dbus dbus-bin systemd util-linux
  # link emulator (NFQUEUE)
  libnetfilter-queue-dev libmnl-dev
  # test topology and tests
  iproute2 nftables iptables iputils-ping dnsmasq-base busybox procps psmisc
  python3 python3-pytest python3-scapy tshark
  # strongSwan as the independent IKEv2/MOBIKE peer in tests/interop and bench/vpn_compare.py
  # (charon with kernel-libipsec, swanctl, the kdf plugin, the openssl plugin for AES-GCM,
  # ChaCha20-Poly1305, X25519 and ECDSA; test certificates come from the openssl CLI)
  strongswan-charon strongswan-swanctl
  libcharon-extra-plugins libstrongswan-extra-plugins libstrongswan-standard-plugins openssl
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages present"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "setup: missing packages (${missing[*]}); run as root to install them" >&2
  exit 1
fi

echo "setup: installing ${missing[*]}"
# Never let a package start a daemon on the host (dnsmasq, strongswan...): RC 101 = action forbidden.
cleanup_policy=0
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod +x /usr/sbin/policy-rc.d
  cleanup_policy=1
fi
trap '[ "$cleanup_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d' EXIT

export DEBIAN_FRONTEND=noninteractive
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup: done"
