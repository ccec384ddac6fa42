#!/usr/bin/env bash
# Runs the test suite built for Windows (GOOS=windows GOARCH=amd64) under
# Wine, against the winapi driver.
#
#   scripts/test-windows.sh                 # every package
#   scripts/test-windows.sh -run TestUI -v  # extra arguments go to go test
#   scripts/test-windows.sh -run XXX -fuzz FuzzLoop -fuzztime 2000x .
#
# Needs Go, Wine 8 or newer (Debian: wine64) and the MinGW-w64 C compiler
# (Debian: gcc-mingw-w64-x86-64), which builds the small ProcessPrng DLL
# that Go binaries need and Wine 8 lacks (.ci/wine/processprng.c).
#
# The Wine prefix lives in $EVENTCORE_WINEPREFIX, by default in the user's
# cache directory; it is created (wineboot -i) on the first run and reused.
# Wine runs headless: the prefix uses Wine's null graphics driver, so no X
# display is needed.
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in go wine x86_64-w64-mingw32-gcc; do
	if ! command -v "$tool" >/dev/null; then
		echo "test-windows.sh: $tool not found." >&2
		echo "On Debian: apt-get install wine64 gcc-mingw-w64-x86-64" >&2
		exit 2
	fi
done

export WINEPREFIX="${EVENTCORE_WINEPREFIX:-${XDG_CACHE_HOME:-$HOME/.cache}/eventcore-wine}"
export WINEARCH=win64
export WINEDEBUG=-all
# Wine's own bcryptprimitives.dll has no ProcessPrng: load ours instead.
export WINEDLLOVERRIDES="bcryptprimitives=n;mscoree,mshtml="

if [ ! -f "$WINEPREFIX/system.reg" ]; then
	echo "creating the Wine prefix $WINEPREFIX"
	mkdir -p "$WINEPREFIX"
	wineboot -i >/dev/null 2>&1
	wine reg add 'HKCU\Software\Wine\Drivers' /v Graphics /d null /f >/dev/null 2>&1
	wineserver -w
fi

# Windows resolves "localhost" itself and leaves it out of its hosts file;
# the tests' resolver is Go's own (PreferGo), which reads only that file.
# Give it the entries a Linux /etc/hosts has.
hosts="$WINEPREFIX/drive_c/windows/system32/drivers/etc/hosts"
if ! grep -q '^127\.0\.0\.1[[:space:]].*localhost' "$hosts" 2>/dev/null; then
	printf '127.0.0.1 localhost\r\n::1 localhost\r\n' >>"$hosts"
fi

shim="$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll"
src=.ci/wine/processprng.c
if [ ! -f "$shim.eventcore" ] || ! cmp -s "$src" "$shim.eventcore"; then
	echo "building the ProcessPrng shim into $shim"
	tmp=$(mktemp -d)
	x86_64-w64-mingw32-gcc -O2 -shared -s -o "$tmp/bcryptprimitives.dll" \
		"$src" .ci/wine/bcryptprimitives.def
	cp "$tmp/bcryptprimitives.dll" "$shim"
	cp "$src" "$shim.eventcore" # what the installed shim was built from
	rm -rf "$tmp"
fi

# The wine server outlives the test processes; stop it when done.
trap 'wineserver -k 2>/dev/null || true' EXIT
# Start the wine server, and with it Wine's own system processes, before
# any test, without our output streams: started by a test binary instead,
# they would inherit that test's output and hold it open after it exits,
# and go test fails such a package ("Test I/O incomplete 1m0s after
# exiting") when a longer package keeps the server alive.
wineserver -p </dev/null >/dev/null 2>&1
wine cmd /c exit </dev/null >/dev/null 2>&1
# Every package, unless the arguments name some (go test -fuzz takes one).
pkgs=(./...)
for arg in "$@"; do
	case $arg in
	. | ./*) pkgs=() ;;
	esac
done
GOOS=windows GOARCH=amd64 go test -exec wine "$@" "${pkgs[@]}"
