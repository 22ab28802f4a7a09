# Shared helpers for the .ci/ scripts; source it, do not run it.
# shellcheck shell=bash

# prog names the calling script in messages.
prog=${prog:-$(basename "$0")}

log() { printf '%s: %s\n' "$prog" "$*" >&2; }

die() {
  printf '%s: error: %s\n' "$prog" "$*" >&2
  exit 1
}

# install_packages PKG...: installs the named Debian packages with apt-get
# when running as root; otherwise stops and says exactly what to install.
install_packages() {
  [ "$#" -gt 0 ] || return 0
  if [ "$(id -u)" -ne 0 ]; then
    die "missing Debian packages: $*
  install them with:  sudo apt-get update && sudo apt-get install -y $*
  (or run this as root, which installs them)"
  fi
  command -v apt-get >/dev/null 2>&1 ||
    die "missing packages $*, and there is no apt-get here to install them: install them by hand"
  log "installing Debian packages: $*"
  local out
  out=$(mktemp)
  export DEBIAN_FRONTEND=noninteractive
  # -o DPkg::Lock::Timeout: wait for a package manager already running
  if ! { apt-get update -qq && apt-get install -y -qq -o DPkg::Lock::Timeout=600 "$@"; } </dev/null >"$out" 2>&1; then
    tail -n 40 "$out" >&2
    rm -f "$out"
    die "could not install $* with apt-get (its last lines are above)"
  fi
  rm -f "$out"
  log "installed $*"
}

# go_toolchain prints the toolchain go.mod pins (its "toolchain" line).
go_toolchain() {
  local t
  t=$(sed -n 's/^toolchain[[:space:]]\{1,\}\(go[0-9.]*\)[[:space:]]*$/\1/p' go.mod)
  [ -n "$t" ] || die "go.mod has no toolchain line"
  printf '%s\n' "$t"
}
