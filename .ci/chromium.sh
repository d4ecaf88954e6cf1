#!/usr/bin/env bash
# Make sure Debian's Chromium is installed (for the browser tests of the
# counter page) and print the path of its executable.  Installs with apt-get
# only what is missing, so running it again changes nothing; a CJK font comes
# along so that screenshots show the Chinese labels.  The tests never
# download a browser of Playwright's own.  ESEAL_TEST_CHROMIUM names another
# executable instead; then nothing is installed.
set -euo pipefail

if [ -n "${ESEAL_TEST_CHROMIUM:-}" ]; then
  chromium="$ESEAL_TEST_CHROMIUM"
  packages=()
else
  chromium=/usr/bin/chromium
  packages=()
  [ -x "$chromium" ] || packages+=(chromium)
  [ -e /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || packages+=(fonts-wqy-microhei)
fi

if [ "${#packages[@]}" -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  log="$(mktemp)"
  trap 'rm -f "$log"' EXIT
  if ! { $sudo apt-get update -qq &&
         $sudo apt-get install -y -qq --no-install-recommends "${packages[@]}"; } \
       >"$log" 2>&1; then
    cat "$log" >&2
    echo "chromium.sh: apt-get could not install ${packages[*]}" >&2
    exit 1
  fi
fi

if [ -x "$chromium" ]; then
  echo "$chromium"
  exit 0
fi
echo "chromium.sh: no Chromium at $chromium" >&2
exit 1
