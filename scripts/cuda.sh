# Sourced by scripts/setup_venv.sh and docker/build.sh.
# cuda_major [DEFAULT]: prints 12 or 13, the CUDA major version whose CuPy
# the host's driver runs: BRANCHYNET_CUDA=12|13 if set, else what nvidia-smi
# reports (a driver newer than 13 runs CUDA 13 code). Without either it
# prints DEFAULT, or, with none given, says why on stderr and returns 1; a
# driver older than CUDA 12 always returns 1 (CuPy 14 needs 12 or 13).
cuda_major() {
  local v=${BRANCHYNET_CUDA:-}
  if [ -z "$v" ] && command -v nvidia-smi >/dev/null 2>&1; then
    v=$(nvidia-smi 2>/dev/null | sed -n 's/.*CUDA Version: *\([0-9][0-9]*\).*/\1/p' | head -n1)
    if [ -z "$v" ] && [ -z "${1:-}" ]; then
      echo "nvidia-smi reports no CUDA version; set BRANCHYNET_CUDA=12 or 13" >&2; return 1
    fi
  fi
  if [ -z "$v" ]; then
    [ -n "${1:-}" ] && { echo "$1"; return 0; }
    echo "nvidia-smi not found (no NVIDIA driver?); set BRANCHYNET_CUDA=12 or 13 to choose the CuPy by hand" >&2
    return 1
  fi
  case "$v" in
    12|13) echo "$v" ;;
    *) if [[ "$v" =~ ^[0-9]+$ ]] && [ "$v" -gt 13 ]; then echo 13
       else echo "CUDA '$v': CuPy 14 needs a driver for CUDA 12 or 13 (BRANCHYNET_CUDA=12|13)" >&2; return 1; fi ;;
  esac
}
