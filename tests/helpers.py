"""Plain helpers shared by several test modules (fixtures live in conftest)."""
import pathlib

#: the real MNIST files, when this checkout sits beside ../shared
REAL_MNIST = (pathlib.Path(__file__).resolve().parents[2] / 'shared' / 'data'
              / 'mnist')


def files_in(directory):
    """Sorted paths, relative to ``directory``, of every file below it."""
    directory = pathlib.Path(directory)
    if not directory.exists():
        return []
    return sorted(str(p.relative_to(directory)) for p in directory.rglob('*')
                  if p.is_file())
