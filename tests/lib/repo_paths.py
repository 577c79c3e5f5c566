"""Where the tests find the repository, the vendored specifications (`third_party/`) and the tools
`make deps` installs."""
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
THIRD_PARTY_DIR = REPO_ROOT / "third_party"
DEPS_BIN_DIR = REPO_ROOT / ".deps" / "bin"


class MissingDependency(RuntimeError):
    """A tool that `make deps` installs is not there."""


def deps_binary(name: str) -> Path:
    """Path of a binary from .deps/bin (helm, kubectl), or MissingDependency saying what to run."""
    path = DEPS_BIN_DIR / name
    if not path.is_file():
        raise MissingDependency(f"{path} not found: run `make deps` first")
    return path


def deps_binary_or_skip(name: str) -> Path:
    """deps_binary() for tests: skips the test, with the reason, when the binary is missing."""
    import pytest  # only tests call this, so the library stays usable without pytest

    try:
        return deps_binary(name)
    except MissingDependency as missing:
        pytest.skip(str(missing))
