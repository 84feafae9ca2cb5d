#!/bin/sh
# Installs the Debian 12 packages flowgrep needs to build and test.
set -eu
pkgs="build-essential pkg-config libpcap-dev libpcre2-dev libnet1-dev check iproute2 jq parallel
libnids-dev libglib2.0-dev tcpdump tshark python3 libvectorscan-dev
clang libclang-rt-14-dev time libseccomp-dev"
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		missing="$missing $p"
done
if [ -n "$missing" ]; then
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
fi
