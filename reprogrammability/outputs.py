"""Output folders of the commands (``nnr demo``, ``nnr bench``): checked before any work, never lost.

* :func:`check_output_directory`: the folder can be created and written (or a clear error naming the argument);
* :func:`output_lock`: an exclusive lock on a folder for the length of a run, so a second run into the same
  folder refuses at once instead of failing (or overwriting) after minutes of work;
* :class:`RunFolder`: a run's files are written to a hidden staging folder and published with one rename,
  to the folder itself when it is new or empty, else to a fresh ``run-<UTC time>-<pid>`` folder inside it,
  so two runs into one folder keep both results and a killed run leaves no half-written set.

Importing this module does not import torch.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

__all__ = ["OutputError", "check_output_directory", "output_lock", "RunFolder", "output_mode"]


class OutputError(ValueError):
    """An output folder cannot be used; the message names the argument and what to do."""


def output_mode(directory: bool = False) -> int:
    """The mode of everything the package writes: 0o666 / 0o777 under the process umask (0644 / 0755 usually)."""
    mask = os.umask(0)
    os.umask(mask)
    return (0o777 if directory else 0o666) & ~mask


def check_output_directory(path: str | os.PathLike, argument: str) -> Path:
    """``path`` as a folder that exists or can be created, and can be written; else :class:`OutputError`."""
    text = os.fspath(path)
    if not text.strip():
        raise OutputError(f"{argument}: is empty; expected a directory path")
    if "\0" in text:
        raise OutputError(f"{argument}: contains a NUL byte; expected a directory path")
    directory = Path(text).expanduser()
    if directory.exists() and not directory.is_dir():
        raise OutputError(f"{argument}: {directory} is a file; expected a directory")
    existing = directory
    while not existing.exists():  # the nearest existing ancestor decides whether the folder can be created
        if existing.parent == existing:
            break
        existing = existing.parent
    if not existing.is_dir():
        raise OutputError(f"{argument}: {existing} is a file, so {directory} cannot be created")
    try:  # try it: permissions, read-only file systems and special folders (/proc) all answer here
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as error:
        raise OutputError(
            f"{argument}: cannot create files in {existing} ({error.strerror}); choose a directory you can write to"
        ) from None
    return directory


def _lock_path(directory: Path) -> Path:
    """A lock file per output folder, kept outside it (the folder holds results only)."""
    key = hashlib.sha256(str(directory.resolve()).encode("utf-8", "surrogateescape")).hexdigest()[:32]
    locks = Path(tempfile.gettempdir()) / f"reprogrammability-locks-{os.getuid() if hasattr(os, 'getuid') else 0}"
    locks.mkdir(mode=0o700, exist_ok=True)
    return locks / f"{key}.lock"


@contextmanager
def output_lock(directory: str | os.PathLike, argument: str, command: str) -> Iterator[Path]:
    """Hold an exclusive lock on ``directory`` while the block runs; :class:`OutputError` at once if another
    run holds it. The lock dies with its process (``flock``), so a killed run never blocks the next one."""
    directory = check_output_directory(directory, argument)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: no cross-process lock, runs proceed as before
        yield directory
        return
    path = _lock_path(directory)
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            if error.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise
            handle.seek(0)
            holder = handle.read().strip()[:40] or "unknown"
            raise OutputError(
                f"{argument}: {directory} is in use by another {command} run (pid {holder}); wait for it to "
                f"finish or choose another {argument}"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        try:
            yield directory
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


class RunFolder:
    """A run's output folder: files go to :attr:`path` (a hidden staging folder) and :meth:`publish` moves
    them, as one set, to ``directory`` (when it is new or empty) or to ``directory/run-<UTC time>-<pid>``.

    Create it before any work: it checks and reserves the folder. :meth:`discard` removes the staging folder
    of a run that failed.
    """

    def __init__(self, directory: str | os.PathLike, argument: str = "output directory"):
        self.directory = check_output_directory(directory, argument)
        self.argument = argument
        self.run_name = f"run-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{os.getpid()}"
        parent = self.directory.parent
        into_place = (not self.directory.exists() or not any(self.directory.iterdir())) and os.access(
            parent if parent.exists() else parent.parent, os.W_OK
        )
        if into_place:
            parent.mkdir(parents=True, exist_ok=True)
            base = parent
        else:
            self.directory.mkdir(parents=True, exist_ok=True)
            base = self.directory
        try:
            self.path = Path(tempfile.mkdtemp(prefix=f".{self.directory.name or 'output'}.{self.run_name}.", dir=base))
        except OSError as error:
            raise OutputError(f"{argument}: cannot write to {base} ({error.strerror})") from error
        self.path.chmod(output_mode(directory=True))
        self.published: Path | None = None

    def publish(self) -> Path:
        """Move the staged files into place with one rename; returns where they are."""
        mode = output_mode()
        for file in self.path.rglob("*"):
            if file.is_file():
                file.chmod(mode)
        try:
            os.rename(self.path, self.directory)  # new or empty folder: the results land in it
            self.published = self.directory
        except OSError:
            self.directory.mkdir(parents=True, exist_ok=True)
            target = self.directory / self.run_name
            suffix = 1
            while target.exists():
                suffix += 1
                target = self.directory / f"{self.run_name}-{suffix}"
            os.rename(self.path, target)  # the folder holds other results: keep both
            self.published = target
        return self.published

    def discard(self) -> None:
        if self.published is None:
            shutil.rmtree(self.path, ignore_errors=True)
