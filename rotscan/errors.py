"""The one exception hierarchy of rotscan.

Everything rotscan raises on purpose derives from :class:`RotscanError`; the CLI turns it into a
one-line message and a non-zero exit. Java/Delta exceptions are translated at the Spark boundary
(``rotscan.spark``) so nothing above it sees a ``Py4JJavaError``.
"""

from __future__ import annotations


class RotscanError(Exception):
    """Root of every error rotscan raises deliberately."""


class ConfigError(RotscanError):
    """A configuration file, environment variable or flag is invalid."""


class RootNotFoundError(RotscanError):
    """A scan root does not exist or cannot be listed at all."""


class StorageError(RotscanError):
    """A storage operation failed (listing, reading, moving a file)."""


class SparkSetupError(RotscanError):
    """The Spark session could not be built (Java missing, Delta jars unresolved, ...)."""


class ReadError(RotscanError):
    """A dataset or file could not be read (corrupt, binary, vanished, permission denied)."""


class FindingsFormatError(RotscanError):
    """A findings.json file is missing or not in the contract's format."""


class VanishedError(StorageError):
    """A path that was listed no longer exists (deleted or moved while rotscan looked at it)."""


class AccessDeniedError(StorageError):
    """Permission denied on a path."""
