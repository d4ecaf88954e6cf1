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

# shellcheck source=.ci/apt-install.sh
source "$(dirname "$0")/apt-install.sh"
apt_install chromium.sh ${packages[@]+"${packages[@]}"}

if [ -x "$chromium" ]; then
  echo "$chromium"
  exit 0
fi
echo "chromium.sh: no Chromium at $chromium" >&2
exit 1
