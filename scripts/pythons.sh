# The Python versions the project supports and tests (sourced by the setup
# and lock scripts; setup.py states the same range). Oldest first.
SUPPORTED_PYTHONS="3.10 3.11 3.12 3.13 3.14"
