"""Files clientlens writes: private to their owner, and whole or not at all.

Two promises, kept here for every writer in the project:

* **Private.** A workspace holds the bank's customers (names, phones, document
  numbers, balances). Its folder is 0700 and every file clientlens creates is 0600,
  so other users of the machine read nothing. The command line and the service
  set the process umask to 077 (:func:`use_private_umask`), which covers files
  that libraries create on their own (DuckDB's database, WAL and spill files,
  SQLite's ``-wal`` and ``-shm``, matplotlib's PNGs); the writers below create
  their files 0600 themselves, so the Python API is private too.
* **Whole.** A file is written to a private temporary file in the same folder and
  renamed over the target (:func:`atomic_path`), which POSIX makes atomic: a reader,
  or a second process writing the same file at the same moment, sees the old file
  or a new one, never half of one. The last writer wins.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from clientlens.model.errors import ClientlensError

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
PRIVATE_UMASK = 0o077
_SHARED_BITS = 0o077  # group and other: read, write, execute


class OutputError(ClientlensError):
    """A file that cannot be written where the user asked (no such folder, no rights)."""

    code = "output_error"


def use_private_umask() -> int:
    """Make every file and folder this process creates from now on private to its owner
    (umask 077, keeping any stricter bits already set); returns the previous umask.

    Called first thing by the command line; a program embedding clientlens may call it
    too. Files that libraries create without asking us (DuckDB's WAL, SQLite's -shm)
    only become private this way."""
    old = os.umask(PRIVATE_UMASK)
    os.umask(old | PRIVATE_UMASK)
    return old


def is_private(path: Path) -> bool:
    """No permission bits for group or other (symlinks and missing paths count as private:
    we never change what a link points to)."""
    try:
        st = path.lstat()
    except FileNotFoundError:
        return True
    return stat.S_ISLNK(st.st_mode) or not st.st_mode & _SHARED_BITS


def make_private(paths: Iterable[Path], *, recursive: bool = True) -> list[Path]:
    """Remove group and other permissions from each path we own (folders become at most
    0700, files 0600 or 0700), recursing into folders unless told not to; returns the
    paths changed.

    Symlinks are skipped, not followed, and so are paths another user owns (we could
    not change them, and a workspace should not hold them)."""
    if os.name != "posix":  # Windows: ACLs, not mode bits
        return []
    changed: list[Path] = []
    uid = os.getuid()

    def fix(p: Path) -> None:
        try:
            st = p.lstat()
        except FileNotFoundError:
            return
        if stat.S_ISLNK(st.st_mode) or st.st_uid != uid:
            return
        if st.st_mode & _SHARED_BITS:
            try:
                os.chmod(p, stat.S_IMODE(st.st_mode) & ~_SHARED_BITS)
                changed.append(p)
            except OSError:  # a read-only mount, a file system without modes: as it is
                pass
        if recursive and stat.S_ISDIR(st.st_mode):
            for child in sorted(p.iterdir()):
                fix(child)

    for path in paths:
        fix(Path(path))
    return changed


def ensure_folder(folder: Path) -> None:
    """Create ``folder`` (and missing parents) private to the owner, or explain clearly
    why it cannot be: a file in the way, no permission."""
    folder = Path(folder)
    if folder.is_dir():
        return
    for parent in (folder, *folder.parents):
        if parent.exists() and not parent.is_dir():
            raise OutputError(f"cannot create folder {folder}: {parent} is a file")
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
    except PermissionError:
        raise OutputError(f"cannot create folder {folder}: permission denied") from None
    except OSError as e:
        raise OutputError(f"cannot create folder {folder}: {e.strerror or e}") from None


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A private (0600) temporary file beside ``path`` for a writer that wants a file
    name (DuckDB's COPY, matplotlib, pyarrow); renamed over ``path`` when the block ends
    without an error, removed when it fails, so ``path`` is never half written.

    Missing folders are created (0700). The temporary name is unique per call, so two
    processes writing the same file do not write into each other's temporary file."""
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"cannot write {path}: it is a folder; give a file name")
    ensure_folder(path.parent)
    try:
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.",
                                    suffix=".partial")
    except PermissionError:
        raise OutputError(f"cannot write in {path.parent}: permission denied") from None
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        _fsync(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_folder(path.parent)


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "w", *, encoding: str | None = "utf-8",
                newline: str | None = None) -> Iterator[IO[Any]]:
    """``open(path, mode)`` for writing, atomically and privately (see :func:`atomic_path`)."""
    if "b" in mode:
        encoding = None
    with atomic_path(path) as tmp, open(tmp, mode, encoding=encoding, newline=newline) as f:
        yield f


def write_text(path: str | Path, text: str, *, encoding: str = "utf-8") -> Path:
    """Write a whole text file atomically and privately."""
    with atomic_open(path, "w", encoding=encoding) as f:
        f.write(text)
    return Path(path)


def write_bytes(path: str | Path, data: bytes) -> Path:
    with atomic_open(path, "wb") as f:
        f.write(data)
    return Path(path)


def create_private_file(path: Path) -> bool:
    """Create an empty 0600 file if ``path`` does not exist yet (SQLite then gives its
    -wal and -shm files the same mode); True when it was created here."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    except FileExistsError:
        return False
    os.close(fd)
    return True


def _fsync(path: Path) -> None:
    # Durable before it becomes visible: after a crash the target is the old file or
    # the whole new one.
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def _fsync_folder(folder: Path) -> None:
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError:  # some file systems cannot sync a folder; the rename happened anyway
        pass
    finally:
        os.close(fd)
