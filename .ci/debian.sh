#!/usr/bin/env bash
# CI on another system: a fresh clone run inside a minimal Debian root, as a
# new user there would: Debian's python3, no venv, no caches, Open MPI from
# that release's packages. There it runs the README's two commands:
#   ./get_results.sh --quick --only lenet_mnist
#   tests/run.sh [PYTEST_ARGS...]
# and prints the interpreter, NumPy and Open MPI they used, and each one's time.
#
# usage: .ci/debian.sh SUITE [PYTEST_ARGS...]     (as root)
#   SUITE: trixie (Debian 13: Python 3.13, Open MPI 5) or forky (Debian
#   testing: Python 3.14, Open MPI 6); PYTEST_ARGS go to tests/run.sh.
# Needs debootstrap's mirror, i.e. the Debian mirror this host's apt uses.
# The root is built with debootstrap (minbase plus the packages below, a few
# minutes) into BRANCHYNET_DEBIAN_ROOT (default /tmp/branchynet-SUITE) and
# reused while its package list is unchanged; the clone is made afresh each
# run. A suite newer than this host's debootstrap (forky on Debian 12) is
# built with sid's script. MNIST comes from ../shared/data/mnist when present
# (this machine cannot download it); without it the quick job is skipped
# with a message.
set -euo pipefail
say() { echo "debian.sh: $*"; }
die() { echo "debian.sh: error: $*" >&2; exit 1; }
[ $# -ge 1 ] || die "usage: .ci/debian.sh SUITE [PYTEST_ARGS...] (SUITE: trixie or forky)"
SUITE=$1; shift
case "$SUITE" in
  trixie|forky|sid) ;;
  *) die "unknown suite '$SUITE' (choose trixie or forky)" ;;
esac
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROOT=${BRANCHYNET_DEBIAN_ROOT:-/tmp/branchynet-$SUITE}
PKGS=python3,python3-venv,ca-certificates,git,util-linux,openmpi-bin
[ "$(id -u)" = 0 ] || die "needs root (debootstrap, chroot)"

MIRROR=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n1)
[ -n "$MIRROR" ] || MIRROR=$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list 2>/dev/null)
[ -n "$MIRROR" ] || die "no Debian mirror found in this host's apt sources"

unmount() { for m in proc sys dev; do mountpoint -q "$ROOT/$m" && umount "$ROOT/$m"; done; return 0; }
if [ "$(cat "$ROOT/.branchynet-pkgs" 2>/dev/null)" != "$PKGS" ]; then
  command -v debootstrap >/dev/null \
    || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null; }
  SCRIPT=
  [ -e "/usr/share/debootstrap/scripts/$SUITE" ] || SCRIPT=/usr/share/debootstrap/scripts/sid
  say "building a $SUITE root in $ROOT ($PKGS)${SCRIPT:+ with the debootstrap script of sid}"
  unmount
  rm -rf --one-file-system "$ROOT"
  # shellcheck disable=SC2086
  debootstrap --variant=minbase --include="$PKGS" "$SUITE" "$ROOT" "$MIRROR" $SCRIPT > "$ROOT.log" 2>&1 \
    || die "debootstrap $SUITE failed; see $ROOT.log"
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
OMPI=$(chroot "$ROOT" sh -c 'mpiexec --version 2>/dev/null | head -n1' || true)
say "$(chroot "$ROOT" sh -c '. /etc/os-release; echo "$PRETTY_NAME"'), $(chroot "$ROOT" python3 -V), ${OMPI:-no mpiexec}; fresh clone of $SRC"
ARGS=; [ $# = 0 ] || ARGS=$(printf ' %q' "$@")
chroot "$ROOT" env -i HOME=/root LANG=C.UTF-8 PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin \
  BRANCHYNET_DATA_ROOT=/root/data CI="${CI:-}" bash -c "
    set -e; cd /root/repo
    t0=\$SECONDS; $QUICK; echo \"debian.sh: $SUITE: quick job: \$((SECONDS - t0)) s\"
    t0=\$SECONDS; tests/run.sh$ARGS; echo \"debian.sh: $SUITE: tests/run.sh$ARGS: \$((SECONDS - t0)) s\"
    .venv/bin/python -c 'import sys, numpy; print(\"debian.sh: $SUITE: used Python\", sys.version.split()[0], \"NumPy\", numpy.__version__)'"
