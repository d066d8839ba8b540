#!/usr/bin/env bash
# chromium.sh provides the browser for the real-browser tests
# (shared/httpapi/browser_test.go): Debian's Chromium, driven headless by
# chromedp.
#
#   scripts/chromium.sh install   install chromium with apt-get if no browser
#                                 is found; exit 1 if none can be had
#   scripts/chromium.sh path      print the browser the tests will use, or
#                                 exit 1 if there is none
#
# The browser is found as the tests find it: $GATEHOUSE_CHROMIUM, else the
# first of chromium, chromium-browser and google-chrome in PATH. Installing
# needs apt-get and root (sudo is used when not root and it is there); it
# runs apt-get update first only if the plain install fails.
set -euo pipefail

say() { echo "chromium: $*" >&2; }
die() { say "$*"; exit 1; }

path() {
	if [[ -n ${GATEHOUSE_CHROMIUM:-} ]]; then
		command -v "$GATEHOUSE_CHROMIUM" && return
		die "GATEHOUSE_CHROMIUM=$GATEHOUSE_CHROMIUM is not an executable"
	fi
	local name
	for name in chromium chromium-browser google-chrome; do
		command -v "$name" && return
	done
	return 1
}

install() {
	if [[ -n ${GATEHOUSE_CHROMIUM:-} ]]; then
		path >/dev/null
		return
	fi
	if path >/dev/null; then
		return
	fi
	command -v apt-get >/dev/null || die "no browser, and no apt-get to install one: install Chromium or Chrome, or set GATEHOUSE_CHROMIUM"
	local sudo=()
	if [[ $(id -u) != 0 ]]; then
		command -v sudo >/dev/null || die "no browser; installing Chromium needs root (apt-get install -y chromium)"
		sudo=(sudo)
	fi
	say "installing Debian's chromium (apt-get install -y chromium)"
	export DEBIAN_FRONTEND=noninteractive
	if ! "${sudo[@]}" apt-get install -y chromium >&2; then
		say "apt-get install failed; updating the package lists and trying again"
		"${sudo[@]}" apt-get update >&2
		"${sudo[@]}" apt-get install -y chromium >&2
	fi
	path >/dev/null || die "installed chromium, but no browser is found"
}

case ${1:-} in
install) install ;;
path) path || die "no browser: run scripts/chromium.sh install" ;;
*)
	sed -n '2,15s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2
	exit 2
	;;
esac
