# Sourced by get_results.sh and scripts/run_seeds.sh.
# mpiexec_quiet: prints --quiet when this mpiexec takes it (Open MPI up to 4,
# whose launcher reports itself as OpenRTE): a failing rank's one line then
# comes without the launcher's banner. Open MPI 5 (PRRTE, e.g. Debian 13)
# dropped the option, and MPICH never had it: there the banner stays.
mpiexec_quiet() {
  if mpiexec --version 2>/dev/null | grep -q 'OpenRTE'; then echo --quiet; fi
}
