"""Walk a root and decide what the datasets are.

A dataset is one of:

- a Delta table: a directory with ``_delta_log`` (its live files come from the log, not the listing);
- an Iceberg table: a directory with ``metadata/*.metadata.json``;
- a Hive-partitioned table: a directory of ``key=value`` directories (one dataset, any depth);
- a directory of part-files of one format (``part-00000-….parquet``, Hive ``000000_0``, or any files
  beside a ``_SUCCESS`` marker);
- a standalone file — including each file of a directory of unrelated files (a folder of exports).

On the way the walk notes what is ROT by its name alone (OS/editor junk, debris of failed writes,
orphan ``.crc`` files) as :class:`PathItem` objects, and every problem (permission denied, vanished
paths, symlinks) as a warning. Symlinks are never followed, so the walk cannot leave the root or loop.
"""

from __future__ import annotations

import fnmatch
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from rotscan.crawl import formats
from rotscan.errors import AccessDeniedError, StorageError, VanishedError
from rotscan.models import ScanWarning
from rotscan.storage.base import Entry, Storage
from rotscan.uri import Uri

STATE_DIR = "_rotscan"
MAX_DEPTH = 128


@dataclass
class DatasetCandidate:
    uri: Uri
    root: Uri
    layout: str  # delta, iceberg, hive_partitioned, part_files, file
    format: str
    files: list[Entry] = field(default_factory=list)  # data files (for Delta: every file of the dir)
    partition_columns: tuple[str, ...] = ()
    partitions: int = 0
    log_entries: list[Entry] | None = None  # Delta: the _delta_log listing
    iceberg_metadata: Entry | None = None
    has_success_marker: bool = False
    # True when ``files`` are exactly the files Spark lists when given the directory ``uri``: no
    # subdirectory, loose file, symlink, excluded or junk entry that one side would read and the
    # other not. The inventory then names the directory instead of every file (O(1) per dataset).
    complete: bool = False


@dataclass(frozen=True)
class PathItem:
    """A path flagged by its name or shape while listing: junk, debris, orphan checksum."""

    kind: str  # junk_file, junk_dir, write_debris, debris_only_dir, orphan_crc
    uri: Uri
    root: Uri
    is_dir: bool
    bytes: int
    files: int
    mtime_max: float | None
    detail: str


@dataclass(frozen=True)
class CrawlRules:
    exclude: tuple[str, ...] = ()
    junk_file_globs: tuple[str, ...] = ()
    junk_dir_globs: tuple[str, ...] = ()
    debris_dir_globs: tuple[str, ...] = ()
    sniff_bytes: int = 65536
    # absolute paths never crawled (e.g. the scan's own output directory inside a root)
    exclude_uris: tuple[Uri, ...] = ()

    @classmethod
    def from_config(cls, config: object) -> CrawlRules:
        get = config.get  # type: ignore[attr-defined]
        return cls(
            exclude=tuple(get("scan", "exclude")),
            junk_file_globs=tuple(get("trivial", "junk_file_globs")),
            junk_dir_globs=tuple(get("trivial", "junk_dir_globs")),
            debris_dir_globs=tuple(get("trivial", "debris_dir_globs")),
            sniff_bytes=int(get("scan", "sniff_bytes")),
        )


def _match(name: str, globs: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatchcase(name, g) for g in globs)


def spark_hides(name: str) -> bool:
    """True when Spark's file index skips this name when listing a directory (Spark's
    ``InMemoryFileIndex.shouldFilterOutPathName``)."""
    exclude = (name.startswith("_") and "=" not in name) or name.startswith(".") or name.endswith("._COPYING_")
    return exclude and not name.startswith(("_common_metadata", "_metadata"))


# Hidden names that are part of a table and never reported.
_KNOWN_HIDDEN_DIRS = frozenset({STATE_DIR, "_spark_metadata", "_delta_log", "_sidecars", "_committed"})


class Crawler:
    """Walks one root through a :class:`Storage`, calling ``on_dataset`` for each dataset found as
    soon as it is known (so per-file state is held for one dataset at a time), and collecting
    path items and warnings."""

    def __init__(self, storage: Storage, rules: CrawlRules,
                 on_dataset: Callable[[DatasetCandidate], None]) -> None:
        self.storage = storage
        self.rules = rules
        self.on_dataset = on_dataset
        self.items: list[PathItem] = []
        self.warnings: list[ScanWarning] = []
        self.dirs_listed = 0
        self.files_seen = 0
        # entries the crawler and Spark's file index would treat differently (see ``_classify``)
        self.spark_mismatches = 0

    # -- helpers ---------------------------------------------------------------------------------
    def warn(self, uri: Uri | None, message: str, code: str) -> None:
        self.warnings.append(ScanWarning(uri=None if uri is None else str(uri), message=message, code=code))

    def _list(self, uri: Uri) -> list[Entry] | None:
        try:
            entries = self.storage.list_dir(uri)
        except AccessDeniedError:
            self.warn(uri, "permission denied: directory not scanned", "permission_denied")
            return None
        except VanishedError:
            self.warn(uri, "directory vanished while scanning", "vanished")
            return None
        except StorageError as exc:
            self.warn(uri, f"cannot list directory: {exc}", "unreadable")
            return None
        self.dirs_listed += 1
        self.files_seen += sum(1 for e in entries if not e.is_dir)
        return entries

    def _excluded(self, uri: Uri, root: Uri) -> bool:
        if any(uri.is_within(x) for x in self.rules.exclude_uris):
            return True
        rel = uri.relative_to(root)
        if rel == STATE_DIR or rel.startswith(STATE_DIR + "/"):
            return True
        return any(fnmatch.fnmatchcase(rel, g) or fnmatch.fnmatchcase(rel, g.rstrip("/") + "/*")
                   for g in self.rules.exclude)

    def _symlink(self, e: Entry, root: Uri) -> None:
        if e.link_target is None:
            self.warn(e.uri, "dangling symlink (target does not exist); not followed", "symlink_dangling")
        elif not e.link_target.is_within(root):
            self.warn(e.uri, f"symlink points outside the scanned root ({e.link_target}); not followed",
                      "symlink_outside_root")
        else:
            self.warn(e.uri, f"symlink to {e.link_target} inside the root; not followed (the target is "
                             "scanned where it lies)", "symlink_skipped")

    def du(self, uri: Uri, depth: int = 0) -> tuple[int, int, float | None]:
        """Bytes, file count and newest mtime below a directory (symlinks not followed)."""
        entries = self._list(uri)
        if entries is None or depth > MAX_DEPTH:
            return 0, 0, None
        size = files = 0
        newest: float | None = None
        for e in entries:
            if e.is_symlink:
                continue
            if e.is_dir:
                s, f, m = self.du(e.uri, depth + 1)
                size, files = size + s, files + f
                if m is not None:
                    newest = m if newest is None else max(newest, m)
            else:
                size, files = size + e.size, files + 1
                newest = e.mtime if newest is None else max(newest, e.mtime)
        return size, files, newest

    def _item(self, kind: str, e: Entry, root: Uri, detail: str) -> None:
        if e.is_dir:
            size, files, newest = self.du(e.uri)
        else:
            size, files, newest = e.size, 1, e.mtime
        self.items.append(PathItem(kind=kind, uri=e.uri, root=root, is_dir=e.is_dir, bytes=size,
                                   files=files, mtime_max=newest, detail=detail))

    def _sniff_format(self, e: Entry) -> str:
        by_name = formats.format_from_name(e.name)
        if by_name is not None:
            return by_name
        try:
            head = self.storage.read_head(e.uri, 4)
        except StorageError:
            return "unknown"
        return formats.format_from_magic(head) or "unknown"

    # -- the walk --------------------------------------------------------------------------------
    def crawl(self, root: Uri) -> None:
        try:
            top = self.storage.stat(root)
        except StorageError as exc:
            self.warn(root, f"root cannot be read: {exc}", "unreadable")
            return
        if not top.is_dir:
            fmt = self._sniff_format(top)
            self.on_dataset(DatasetCandidate(uri=root, root=root, layout="file", format=fmt, files=[top]))
            return
        self._walk(root, root, 0)

    def _classify(self, entries: list[Entry], root: Uri, table_files: list[Entry] | None = None
                  ) -> tuple[list[Entry], list[Entry], list[Entry], bool]:
        """Split a listing into (partition dirs, data files, plain subdirs, has _SUCCESS), reporting
        junk, debris, orphan checksums and symlinks on the way."""
        names = {e.name for e in entries}
        partitions: list[Entry] = []
        data: list[Entry] = []
        subdirs: list[Entry] = []
        success = False
        for e in entries:
            before = len(partitions) + len(data)
            if self._excluded(e.uri, root):
                pass
            elif e.is_symlink:
                self._symlink(e, root)
            elif e.is_dir:
                name = e.name
                if _match(name, self.rules.junk_dir_globs):
                    self._item("junk_dir", e, root, "OS/editor junk directory")
                elif _match(name, self.rules.debris_dir_globs):
                    self._item("write_debris", e, root, "left behind by a failed or unfinished write")
                elif formats.PARTITION_DIR.match(name):
                    partitions.append(e)
                elif name.startswith((".", "_")):
                    if name not in _KNOWN_HIDDEN_DIRS:
                        self.warn(e.uri, "hidden directory not scanned (Spark ignores '_' and '.' names)",
                                  "hidden_skipped")
                else:
                    subdirs.append(e)
                    continue  # plain subdirectories: the callers decide
            else:
                name = e.name
                # checksums first: Hadoop's checksum of "_SUCCESS" is "._SUCCESS.crc", not AppleDouble junk
                if formats.is_crc(name):
                    if formats.crc_data_name(name) not in names:
                        self._item("orphan_crc", e, root,
                                   f"Hadoop checksum of {formats.crc_data_name(name)!r}, which does not exist")
                elif _match(name, self.rules.junk_file_globs):
                    self._item("junk_file", e, root, "OS/editor junk file")
                elif formats.is_marker(name):
                    success = success or name == "_SUCCESS"
                elif name.startswith((".", "_")):
                    pass  # hidden files are ignored by Spark; not data
                else:
                    data.append(e)
            if (len(partitions) + len(data) > before) == spark_hides(e.name):
                # kept by the crawler but hidden from Spark, or skipped here but read by Spark
                self.spark_mismatches += 1
        return partitions, data, subdirs, success

    def _walk(self, uri: Uri, root: Uri, depth: int) -> bool:
        """Walk a directory; True when anything that is data (a dataset) was found below it."""
        if depth > MAX_DEPTH:
            self.warn(uri, f"deeper than {MAX_DEPTH} levels; not scanned further", "too_deep")
            return False
        entries = self._list(uri)
        if entries is None:
            return True  # unknown content: never call it debris-only
        if self._table_dir(uri, root, entries):
            return True
        items_before = len(self.items)
        found, subdirs = self._level(uri, root, entries)
        for sub in subdirs:
            found = self._walk(sub.uri, root, depth + 1) or found
        if not found and uri != root:
            item = self.debris_only(uri, root, self.items[items_before:])
            if item is not None:
                # A table directory holding only debris: the whole directory is the finding.
                del self.items[items_before:]
                self.items.append(item)
        return found

    @staticmethod
    def is_table_dir(entries: list[Entry], is_root: bool = False) -> bool:
        """True when a listing is the top of a table whose files lie below it (Delta, Iceberg,
        Hive partitions): such a directory is walked as one unit. (A root is never an Iceberg
        table, so its ``metadata`` directory does not count.)"""
        for e in entries:
            if e.is_dir and not e.is_symlink and (e.name == "_delta_log" or (e.name == "metadata" and not is_root)
                                                  or formats.PARTITION_DIR.match(e.name)):
                return True
        return False

    def _table_dir(self, uri: Uri, root: Uri, entries: list[Entry]) -> bool:
        """Delta and Iceberg tables: emit the dataset and return True."""
        by_name = {e.name: e for e in entries}
        log = by_name.get("_delta_log")
        if log is not None and log.is_dir and not log.is_symlink:
            self._delta(uri, root, entries)
            return True
        meta = by_name.get("metadata")
        if meta is not None and meta.is_dir and not meta.is_symlink and uri != root:
            from rotscan.crawl.iceberg import latest_metadata

            meta_entries = self._list(meta.uri) or []
            latest = latest_metadata(meta_entries)
            if latest is not None:
                files = [f for f in self._files_below(uri, root) if not f.uri.is_within(meta.uri)]
                self.on_dataset(DatasetCandidate(uri=uri, root=root, layout="iceberg", format="iceberg",
                                                 files=files, iceberg_metadata=latest))
                return True
        return False

    def _level(self, uri: Uri, root: Uri, entries: list[Entry]) -> tuple[bool, list[Entry]]:
        """One directory that is not a Delta/Iceberg table: emit its datasets (a Hive-partitioned
        table, a part-file table, loose files); return (found data, plain subdirectories to walk)."""
        mismatches = self.spark_mismatches
        partitions, data, subdirs, success = self._classify(entries, root)
        found = False
        if partitions:
            files, columns, count = self._partition_files(partitions, root)
            complete = self.spark_mismatches == mismatches and not data and not subdirs
            files += data
            self._emit_table(uri, root, "hive_partitioned", files, columns, count, success, complete)
            found = True
        elif data:
            crc_names = {formats.crc_data_name(e.name) for e in entries if formats.is_crc(e.name)}
            table = [e for e in data if success or formats.is_part_file(e.name) or e.name in crc_names]
            in_table = {id(e) for e in table}  # by identity: a directory may hold 100,000s of files
            loose = [e for e in data if id(e) not in in_table]
            if table:
                complete = self.spark_mismatches == mismatches and not loose and not subdirs
                self._emit_table(uri, root, "part_files", table, (), 0, success, complete)
            for e in loose:
                self.on_dataset(DatasetCandidate(uri=e.uri, root=root, layout="file",
                                                 format=self._sniff_format(e), files=[e]))
            found = True
        return found, subdirs

    def debris_only(self, uri: Uri, root: Uri, items: list[PathItem]) -> PathItem | None:
        """For a directory where no data was found: the ``debris_only_dir`` item replacing every
        item below it when it directly holds debris of failed writes, else None. ``items``: the
        items reported in and below it."""
        debris = [i for i in items if i.kind == "write_debris" and i.uri.parent == uri]
        if not debris:
            return None
        size, nfiles, newest = self.du(uri)
        return PathItem(kind="debris_only_dir", uri=uri, root=root, is_dir=True, bytes=size, files=nfiles,
                        mtime_max=newest,
                        detail="holds only debris of failed writes ("
                               + ", ".join(sorted({i.uri.name for i in debris})) + ") and no data")

    def _emit_table(self, uri: Uri, root: Uri, layout: str, files: list[Entry], columns: tuple[str, ...],
                    partitions: int, success: bool, complete: bool = False) -> None:
        fmts = Counter(self._sniff_format(e) for e in files)
        fmt = fmts.most_common(1)[0][0] if fmts else "unknown"
        if len(fmts) > 1:
            self.warn(uri, "mixed file formats in one table directory: "
                      + ", ".join(f"{n} {f}" for f, n in fmts.most_common()) + f"; profiled as {fmt}",
                      "mixed_formats")
        self.on_dataset(DatasetCandidate(uri=uri, root=root, layout=layout, format=fmt, files=files,
                                         partition_columns=columns, partitions=partitions,
                                         has_success_marker=success, complete=complete))

    def _partition_files(self, partitions: list[Entry], root: Uri) -> tuple[list[Entry], tuple[str, ...], int]:
        files: list[Entry] = []
        columns: list[str] = []
        leaf_count = 0
        stack: list[tuple[Entry, int]] = [(p, 1) for p in partitions]
        while stack:
            d, level = stack.pop()
            m = formats.PARTITION_DIR.match(d.name)
            if m and len(columns) < level:
                columns.append(m.group(1))
            entries = self._list(d.uri)
            if entries is None:
                self.spark_mismatches += 1  # unlisted: its files are unknown here, not to Spark
                continue
            parts, data, subdirs, _ = self._classify(entries, root)
            files.extend(data)
            # files in plain subdirectories of a partition: Spark's partition discovery differs
            self.spark_mismatches += len(subdirs)
            if not parts:
                leaf_count += 1
            stack.extend((p, level + 1) for p in parts)
            for s in subdirs:
                files.extend(self._files_below(s.uri, root))
        return files, tuple(columns), leaf_count

    def _files_below(self, uri: Uri, root: Uri) -> list[Entry]:
        """Every non-hidden file below a table directory, reporting junk/debris on the way."""
        out: list[Entry] = []
        stack = [uri]
        while stack:
            d = stack.pop()
            entries = self._list(d)
            if entries is None:
                continue
            parts, data, subdirs, _ = self._classify(entries, root)
            out.extend(data)
            stack.extend(e.uri for e in parts + subdirs)
        return out

    def _delta(self, uri: Uri, root: Uri, entries: list[Entry]) -> None:
        log_entries = self._list(uri.child("_delta_log")) or []
        files: list[Entry] = []
        parts, data, subdirs, _ = self._classify(entries, root)
        files.extend(data)
        for d in parts + subdirs:
            files.extend(self._files_below(d.uri, root))
        self.on_dataset(DatasetCandidate(uri=uri, root=root, layout="delta", format="delta", files=files,
                                         log_entries=log_entries))

