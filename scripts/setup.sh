#!/usr/bin/env bash
# Makes this machine able to run wgrad: a WebGPU adapter (Mesa lavapipe >= 24 where no
# working adapter exists), node_modules, and -- with --with-data / in CI -- the datasets and
# the Python reference (numpy, torch) the cross-check tests use. Idempotent: a second run on a
# ready machine changes nothing and takes a second or two.
#
#   bash scripts/setup.sh            # adapter + npm packages
#   bash scripts/setup.sh --quiet    # same, prints only what it changes
#   bash scripts/setup.sh --with-browser   # + Debian's chromium, for test/browser.test.ts
#   bash scripts/setup.sh --with-data --with-python --with-browser   # what CI uses
#   ... --or-skip   # what `npm test` adds: an optional install (data, Python, Chromium) that fails
#                   # is reported in one line and the tests that need it are reported as skipped
set -euo pipefail
cd "$(dirname "$0")/.."
quiet=0; data=0; python=0; browser=0; or_skip=0
for a in "$@"; do case "$a" in
  --quiet) quiet=1 ;; --with-data) data=1 ;; --with-python) python=1 ;; --with-browser) browser=1 ;; --or-skip) or_skip=1 ;;
  *) echo "setup.sh: unknown option '$a' (known: --quiet --with-data --with-python --with-browser --or-skip)" >&2; exit 2 ;;
esac; done
say() { [ "$quiet" = 1 ] || echo "setup: $*"; }
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp}
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"

apt_updated=0
apt_install() {  # apt_install [-t suite] pkg...
  if [ "$apt_updated" = 0 ]; then $SUDO apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

# 1. npm packages (before the adapter probe, which needs the `webgpu` package).
# A node_modules that is a symlink (shared by several checkouts) is left to its owner: npm ci
# would empty the directory it points to.
if [ ! -L node_modules ] && { [ ! -d node_modules/webgpu ] || [ package-lock.json -nt node_modules/.package-lock.json ]; }; then
  say "installing npm packages (npm ci)"; npm ci --no-audit --no-fund --loglevel=error
fi

# 2. A WebGPU adapter. Probe first: on a machine with a working one we change nothing.
probe() { node scripts/probe-adapter.mjs 2>/dev/null; }
if ! probe >/dev/null; then
  if [ -f /etc/debian_version ] && grep -q '^12' /etc/debian_version; then
    # Debian 12's own Mesa (22.3) is too old for Dawn; bookworm-backports has 25.x.
    # Use the mirror this machine already uses, so no registry host is named here.
    if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
      mirror=$(cat /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null | awk '
        /^URIs:/ && !/security/ { print $2; exit }
        /^deb / && !/security/ { for (i = 2; i <= NF; i++) if ($i ~ /:\/\//) { print $i; exit } }' || true)
      [ -n "$mirror" ] || { echo "setup.sh: found no Debian mirror in /etc/apt/sources.list*; add bookworm-backports yourself" >&2; exit 1; }
      say "adding bookworm-backports from $mirror"
      printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
        "$mirror" | $SUDO tee /etc/apt/sources.list.d/wgrad-backports.sources >/dev/null
    fi
    say "installing Mesa lavapipe (mesa-vulkan-drivers from bookworm-backports)"
    apt_install -t bookworm-backports mesa-vulkan-drivers libvulkan1
  else
    say "no working WebGPU adapter; install a Vulkan driver (Mesa >= 24 lavapipe: package mesa-vulkan-drivers)"
  fi
  if ! probe >/dev/null; then
    echo "setup.sh: still no WebGPU adapter after installing lavapipe. Run 'node scripts/probe-adapter.mjs' to see why." >&2
    exit 1
  fi
fi
say "adapter: $(probe)"

# Optional installs: fatal unless --or-skip, which reports the failure and goes on (the tests
# that need the package then report themselves as skipped; WGRAD_REQUIRE_ALL=1 makes that fail).
optional_install() {  # optional_install what pkg...
  local what=$1; shift
  say "installing $*"
  if [ "$or_skip" = 1 ]; then
    local why=""
    if ! command -v apt-get >/dev/null; then why="no apt-get"
    elif [ -n "$SUDO" ] && ! sudo -n true 2>/dev/null; then why="sudo needs a password"
    elif ! ( apt_install "$@" ) 2>/dev/null; then why="apt-get failed"; fi
    [ -z "$why" ] || echo "setup: could not install $* ($why); the tests that need $what will be reported as skipped" >&2
  else
    apt_install "$@"
  fi
}

# 3. Optional: datasets and the Python reference used by cross-check tests.
if [ "$data" = 1 ] && ! have_pkg dataset-fashion-mnist; then
  optional_install Fashion-MNIST dataset-fashion-mnist
fi
if [ "$python" = 1 ]; then
  missing=()
  for p in python3-numpy python3-torch libopenblas0-pthread; do have_pkg "$p" || missing+=("$p"); done
  [ "${#missing[@]}" = 0 ] || optional_install "the Python reference" "${missing[@]}"
fi

# 4. Optional: Chromium for the browser test (WebGPU through SwiftShader; driven by playwright-core,
# so no browser is downloaded).
if [ "$browser" = 1 ] && ! have_pkg chromium; then
  optional_install Chromium chromium
fi
