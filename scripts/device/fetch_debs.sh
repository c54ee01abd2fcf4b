#!/usr/bin/env bash
# Run HERE (a Debian machine with registry access), not on the device: downloads
# the Debian packages that scripts/device/gpu_checks.sh unpacks on the device
# machine, which has CUDA, Python torch and a compiler but none of this
# project's other libraries and no registry. Output: .device/debs/*.deb
# (git-ignored; the device tool carries it: carry [".device"]).
#
# Then checks the closure: every shared library and program in the unpacked
# packages must find each library it needs inside them or among the base
# libraries every Linux with a compiler has (glibc, libstdc++, libgcc_s), so
# nothing fails to load there for a package this list forgot.
#
#   scripts/device/fetch_debs.sh            # download + check
#   DEBS_DIR=/tmp/d scripts/device/fetch_debs.sh
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DEBS_DIR="${DEBS_DIR:-$ROOT/.device/debs}"
# Kept well under the device tool's 64 MiB for everything that travels.
MAX_MIB="${MAX_MIB:-48}"

# Headers, CMake/pkg-config files and the .so links the build needs.
DEV=(
  libyaml-cpp-dev libhdf5-dev libopenmpi-dev catch2 libsentencepiece-dev libpcre2-dev libicu-dev
  libssl-dev libcli11-dev libspdlog-dev libfmt-dev nlohmann-json3-dev libhwloc-dev libevent-dev
)
# Programs: mpirun for the two-rank tests, pkg-config for CMake's pkg_check_modules.
TOOLS=(openmpi-bin openmpi-common pkgconf pkgconf-bin libpkgconf3)
# Run-time libraries: what the above link, and what those link in turn.
RUNTIME=(
  libyaml-cpp0.7 libfmt9 libspdlog1.10 libsentencepiece0 libpcre2-8-0 libicu72 libssl3 zlib1g
  libhdf5-103-1 libaec0 libsz2
  libcurl4 libnghttp2-14 libidn2-0 libunistring2 librtmp1 libssh2-1 libpsl5 libgssapi-krb5-2 libkrb5-3
  libk5crypto3 libkrb5support0 libkeyutils1 libcom-err2 libldap-2.5-0 libsasl2-2 libsasl2-modules-db libdb5.3
  libzstd1 libbrotli1 libgnutls30 libnettle8 libhogweed6 libgmp10 libp11-kit0 libtasn1-6 libffi8
  libopenmpi3 libhwloc15 libevent-core-2.1-7 libevent-pthreads-2.1-7 libevent-2.1-7 libevent-extra-2.1-7
  libevent-openssl-2.1-7 libpmix2 libnuma1 libudev1 libmunge2 libltdl7
)
# Left out on purpose: OpenMPI's network plugins (UCX, libfabric, PSM,
# verbs) and hwloc's X11/NVML plugins. They are loaded at run time, one
# machine needs none of them, and gpu_checks.sh selects the shared-memory
# transports (OMPI_MCA_pml=ob1, btl=self,vader), so their absence is silent.

rm -rf "$DEBS_DIR"
mkdir -p "$DEBS_DIR"
if ! apt-cache show libyaml-cpp-dev > /dev/null 2>&1; then apt-get update -qq; fi
# Downloaded by root into a folder _apt cannot write: apt warns and goes on.
( cd "$DEBS_DIR" && apt-get download -qq "${DEV[@]}" "${TOOLS[@]}" "${RUNTIME[@]}" 2> >(grep -v 'unsandboxed' >&2) )

# Static libraries, manuals and docs are dropped from the -dev packages (the
# build links the shared ones): ICU's and OpenSSL's .a alone are 54 MB.
slim="$(mktemp -d)"
for f in "$DEBS_DIR"/*-dev_*.deb; do
  rm -rf "$slim/p"
  dpkg-deb -R "$f" "$slim/p"
  find "$slim/p" -name '*.a' -delete
  rm -rf "$slim/p/usr/share/doc" "$slim/p/usr/share/man" "$slim/p/usr/share/info"
  sed -i '/^Installed-Size:/d' "$slim/p/DEBIAN/control"
  rm -f "$slim/p/DEBIAN/md5sums"
  dpkg-deb -Zxz -b "$slim/p" "$f" > /dev/null
done
rm -rf "$slim"
echo "fetch_debs: $(ls "$DEBS_DIR"/*.deb | wc -l) packages, $(du -sm "$DEBS_DIR" | cut -f1) MiB in $DEBS_DIR"

# --- closure check ---------------------------------------------------------
root="$(mktemp -d)"
trap 'rm -rf "$root"' EXIT
for f in "$DEBS_DIR"/*.deb; do dpkg -x "$f" "$root"; done
base='^(libc|libm|libdl|libpthread|librt|libutil|libresolv|ld-linux-x86-64|libstdc\+\+|libgcc_s|libanl)\.so'
declare -A have=()
while IFS= read -r lib; do have["$(basename "$lib")"]=1; done < <(find "$root" \( -type f -o -type l \) -name '*.so*')
missing=0
while IFS= read -r file; do
  file -b "$file" | grep -q '^ELF.*dynamic' || continue
  while IFS= read -r needed; do
    [[ "$needed" =~ $base ]] && continue
    [ -n "${have[$needed]:-}" ] && continue
    echo "fetch_debs: ${file#"$root"} needs $needed, which no package here provides"
    missing=1
  done < <(readelf -d "$file" 2>/dev/null | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
done < <(find "$root" -type f \( -name '*.so*' -o -path '*/bin/*' \) ! -path '*/openmpi/lib/openmpi3/mca_*' \
          ! -name 'libmca_common_*' ! -path '*/hwloc/*' ! -path '*/ucx/*' ! -path '*/libfabric/*' ! -path '*/pmix2/lib/pmix/*' ! -path '*/sasl2/*')
mib=$(du -sm "$DEBS_DIR" | cut -f1)
[ "$mib" -le "$MAX_MIB" ] || { echo "fetch_debs: FAILED: $mib MiB > $MAX_MIB MiB"; exit 1; }
[ "$missing" -eq 0 ] || { echo "fetch_debs: FAILED: libraries missing (add their packages above)"; exit 1; }
echo "fetch_debs: OK: every library the packages link is among them or the base libraries; $mib MiB"
