"""The installed distribution's version: pyproject.toml owns the number."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("taskyard-client")
except PackageNotFoundError:  # imported from a source tree that was never installed
    __version__ = "0+unknown"
