#!/usr/bin/env bash
# CI on a second system: a fresh clone run inside a minimal Debian 13
# (trixie) root, as a new user there would: Debian's python3 (3.13), no venv,
# no caches, Open MPI from Debian. There it runs the README's two commands:
#   ./get_results.sh --quick --only lenet_mnist
#   tests/run.sh
# and prints the interpreter and NumPy they used.
#
# usage: .ci/debian13.sh     (as root; needs debootstrap's mirror, i.e. the
#                             Debian mirror this host's apt uses)
# The root is built with debootstrap (minbase plus the packages below, a few
# minutes) into BRANCHYNET_DEBIAN_ROOT (default /tmp/branchynet-trixie) and
# reused while its package list is unchanged; the clone is made afresh each
# run. MNIST comes from ../shared/data/mnist when present (this machine cannot
# download it); without it the quick job is skipped with a message.
set -euo pipefail
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROOT=${BRANCHYNET_DEBIAN_ROOT:-/tmp/branchynet-trixie}
PKGS=python3,python3-venv,ca-certificates,git,util-linux,openmpi-bin
say() { echo "debian13.sh: $*"; }
die() { echo "debian13.sh: error: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (debootstrap, chroot)"

MIRROR=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n1)
[ -n "$MIRROR" ] || MIRROR=$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list 2>/dev/null)
[ -n "$MIRROR" ] || die "no Debian mirror found in this host's apt sources"

unmount() { for m in proc sys dev; do mountpoint -q "$ROOT/$m" && umount "$ROOT/$m"; done; return 0; }
if [ "$(cat "$ROOT/.branchynet-pkgs" 2>/dev/null)" != "$PKGS" ]; then
  command -v debootstrap >/dev/null \
    || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null; }
  say "building a trixie root in $ROOT ($PKGS)"
  unmount
  rm -rf --one-file-system "$ROOT"
  debootstrap --variant=minbase --include="$PKGS" trixie "$ROOT" "$MIRROR" > "$ROOT.log" 2>&1 \
    || die "debootstrap trixie failed; see $ROOT.log"
  echo "$PKGS" > "$ROOT/.branchynet-pkgs"
fi
# name resolution, and the host's CA bundle (pip over HTTPS behind its proxy)
cp /etc/resolv.conf "$ROOT/etc/"
cp /etc/ssl/certs/ca-certificates.crt "$ROOT/etc/ssl/certs/ca-certificates.crt"
printf '[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n' > "$ROOT/etc/pip.conf"
trap unmount EXIT
# /sys too: Open MPI's hwloc reads the CPU topology there (else one warning a rank)
for m in proc sys dev; do mountpoint -q "$ROOT/$m" || mount --bind "/$m" "$ROOT/$m"; done

rm -rf "$ROOT/root/repo" "$ROOT/root/data"
git clone -q "$SRC" "$ROOT/root/repo"
QUICK='./get_results.sh --quick --only lenet_mnist'
if [ -d "$SRC/../shared/data/mnist" ]; then
  mkdir -p "$ROOT/root/data" && cp -r "$SRC/../shared/data/mnist" "$ROOT/root/data/"
else
  say "no ../shared/data/mnist: the quick job is skipped (MNIST cannot be downloaded here)"
  QUICK=true
fi
say "$(chroot "$ROOT" sh -c '. /etc/os-release; echo "$PRETTY_NAME"'), $(chroot "$ROOT" python3 -V), fresh clone of $SRC"
chroot "$ROOT" env -i HOME=/root LANG=C.UTF-8 PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin \
  BRANCHYNET_DATA_ROOT=/root/data CI="${CI:-}" bash -c "
    set -e; cd /root/repo
    t0=\$SECONDS; $QUICK; echo \"debian13.sh: quick job: \$((SECONDS - t0)) s\"
    t0=\$SECONDS; tests/run.sh; echo \"debian13.sh: tests/run.sh: \$((SECONDS - t0)) s\"
    .venv/bin/python -c 'import sys, numpy; print(\"debian13.sh: used Python\", sys.version.split()[0], \"NumPy\", numpy.__version__)'"
