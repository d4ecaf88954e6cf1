#!/usr/bin/env bash
# Make sure what printable proofs need is installed: a CJK font with
# TrueType outlines that proofs are set in (AR PL UMing, a Song face, as
# official papers use) and, for the tests, poppler-utils (pdftoppm turns a
# proof's page into a PNG, pdftotext and pdffonts read it back).  Installs
# with apt-get only what is missing, so running it again changes nothing.
# ESEAL_PDF_FONT names another font file instead of UMing.
set -euo pipefail

packages=()
if [ -z "${ESEAL_PDF_FONT:-}" ] && [ ! -e /usr/share/fonts/truetype/arphic/uming.ttc ]; then
  packages+=(fonts-arphic-uming)
fi
if [ "${1:-}" = "--test" ] && ! command -v pdftoppm >/dev/null; then
  packages+=(poppler-utils)
fi

# shellcheck source=.ci/apt-install.sh
source "$(dirname "$0")/apt-install.sh"
apt_install pdf.sh ${packages[@]+"${packages[@]}"}
