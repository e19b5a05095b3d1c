"""Paths and URIs: one canonical spelling so that comparisons are safe.

rotscan names every dataset and file by an absolute URI: ``file:/data/lake/t`` for local paths,
``s3a://bucket/prefix/t`` for S3, ``hdfs://nn:8020/warehouse/t`` for HDFS. ``canonical`` removes the
spellings that made other cleanup tools delete live data (apache/iceberg#4346): scheme aliases
(``s3``/``s3n``/``s3a``), percent-encoding, ``.``/``..`` segments, duplicate and trailing slashes.
"""

from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass
from urllib.parse import unquote

SCHEME_ALIASES = {"s3": "s3a", "s3n": "s3a", "s3a": "s3a"}


@dataclass(frozen=True)
class Uri:
    scheme: str  # "file", "s3a", "hdfs", ...
    authority: str  # bucket / namenode host:port; "" for file
    path: str  # absolute, normalised, no trailing slash (except "/")

    def __str__(self) -> str:
        if self.scheme == "file":
            return f"file:{self.path}"
        return f"{self.scheme}://{self.authority}{self.path}"

    @property
    def name(self) -> str:
        return posixpath.basename(self.path)

    @property
    def parent(self) -> Uri:
        return Uri(self.scheme, self.authority, posixpath.dirname(self.path) or "/")

    def child(self, name: str) -> Uri:
        return Uri(self.scheme, self.authority, posixpath.join(self.path, name))

    def is_within(self, root: Uri) -> bool:
        """True when this URI is ``root`` itself or lies below it (same scheme and authority)."""
        if (self.scheme, self.authority) != (root.scheme, root.authority):
            return False
        if root.path == "/":
            return True
        return self.path == root.path or self.path.startswith(root.path + "/")

    def relative_to(self, root: Uri) -> str:
        if not self.is_within(root):
            raise ValueError(f"{self} is not within {root}")
        if self.path == root.path:
            return ""
        return self.path[len(root.path):].lstrip("/")


def _normpath(path: str) -> str:
    path = unquote(path)
    if not path.startswith("/"):
        path = "/" + path
    norm = posixpath.normpath(path)
    # posixpath.normpath keeps a leading "//"; collapse it.
    if norm.startswith("//"):
        norm = "/" + norm.lstrip("/")
    return norm


def parse(text: str, *, cwd: str | None = None) -> Uri:
    """Parse a user-given path or URI into a canonical :class:`Uri`.

    ``/data/lake``, ``data/lake`` (relative to ``cwd``), ``file:/data/lake``, ``file:///data/lake``,
    ``s3://b/p``, ``s3n://b/p``, ``s3a://b/p/`` all parse; S3 schemes become ``s3a``.
    """
    text = text.strip()
    if not text:
        raise ValueError("empty path")
    if "://" in text:
        scheme, _, rest = text.partition("://")
        scheme = scheme.lower()
        authority, slash, path = rest.partition("/")
        if scheme == "file":
            return Uri("file", "", _normpath("/" + path if slash else "/"))
        scheme = SCHEME_ALIASES.get(scheme, scheme)
        return Uri(scheme, authority, _normpath(path if slash else "/"))
    if text.startswith("file:"):
        return Uri("file", "", _normpath(text[len("file:"):]))
    base = cwd if cwd is not None else os.getcwd()
    return Uri("file", "", _normpath(posixpath.join(base, text)))


def canonical(text: str) -> str:
    return str(parse(text))


def is_within(uri: str, root: str) -> bool:
    return parse(uri).is_within(parse(root))
