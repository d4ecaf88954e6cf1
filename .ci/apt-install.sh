#!/usr/bin/env bash
# Install Debian packages quietly, as root or through sudo; on failure print
# apt-get's output and exit 1.  Sourced by the .ci scripts that install what
# the tests need:  apt_install NAME PACKAGE...  (NAME prefixes the message).

apt_install() {
  local name="$1"
  shift
  [ "$#" -gt 0 ] || return 0
  local sudo="" log
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  log="$(mktemp)"
  if ! { DEBIAN_FRONTEND=noninteractive $sudo apt-get update -qq &&
         DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
           --no-install-recommends "$@"; } >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    echo "$name: apt-get could not install $*" >&2
    exit 1
  fi
  rm -f "$log"
}
