# Sourced by get_results.sh and scripts/run_seeds.sh.

# mpiexec_quiet: prints --quiet when this mpiexec takes it (Open MPI up to 4,
# whose launcher reports itself as OpenRTE): a failing rank's one line then
# comes without the launcher's banner. Open MPI 5 and 6 (PRRTE: Debian 13,
# Debian testing) dropped the option, and MPICH never had it: there the banner stays.
mpiexec_quiet() {
  if mpiexec --version 2>/dev/null | grep -q 'OpenRTE'; then echo --quiet; fi
}

# mpi_launcher N: sets MPI_LAUNCHER to the words that start N training
# processes: the data root and unbuffered output reach the ranks on other
# machines too; as root (a container) Open MPI asks for the two OMPI_ALLOW_*.
mpi_launcher() {
  # shellcheck disable=SC2046
  MPI_LAUNCHER=(mpiexec $(mpiexec_quiet) -n "$1" -x BRANCHYNET_DATA_ROOT -x PYTHONUNBUFFERED)
  if [ "$(id -u)" = 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
}
