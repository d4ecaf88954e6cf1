#!/usr/bin/env bash
# Make sure SoftHSM2 is installed (for the PKCS#11 signer's tests) and print
# the path of its PKCS#11 module.  Installs with apt-get only when
# softhsm2-util is missing, so running it again changes nothing.
set -euo pipefail

if ! command -v softhsm2-util >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq >&2
  $sudo apt-get install -y -qq softhsm2 >&2
fi

for lib in \
  /usr/lib/softhsm/libsofthsm2.so \
  /usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so \
  /usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so; do
  if [ -f "$lib" ]; then
    echo "$lib"
    exit 0
  fi
done
echo "softhsm.sh: softhsm2-util is installed but libsofthsm2.so was not found" >&2
exit 1
