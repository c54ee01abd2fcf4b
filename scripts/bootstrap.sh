#!/usr/bin/env bash
# Installs every Debian package the build, tests and demo need. Idempotent:
# a machine that already has them all does no apt work at all.
set -euo pipefail

PKGS=(
  build-essential cmake ninja-build pkg-config ccache
  libtorch-dev libopenblas0-openmp
  libopenmpi-dev openmpi-bin
  libyaml-cpp-dev libhdf5-dev
  catch2
  libsentencepiece-dev sentencepiece
  libpcre2-dev libicu-dev libssl-dev
  libcli11-dev libspdlog-dev libfmt-dev nlohmann-json3-dev
  libfccp-dev
  gnuplot-nox fonts-dejavu-core
)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "bootstrap: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "bootstrap: all packages present"
fi
