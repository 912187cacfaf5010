"""Which of a store's "running" runs still have a live writer.

A run holds an exclusive ``flock`` on ``<store>/running/<run_id>.lock`` from
``begin_run`` to ``end_run``. The operating system drops the lock when the process
ends, however it ends (``kill -9`` included), so a later reader that can take the lock
knows the writer is gone and the run was killed. ``flock`` locks belong to an open file,
so even the same process cannot take the lock of its own live run. Where ``fcntl`` is
missing (Windows) nothing is locked and a killed run keeps the status "running".
"""

from __future__ import annotations

import os
import pathlib
from typing import IO

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

FOLDER = "running"


def lock_path(store: pathlib.Path, run_id: int) -> pathlib.Path:
    return store / FOLDER / f"{run_id}.lock"


def hold(store: pathlib.Path, run_id: int) -> IO[bytes] | None:
    """Take run ``run_id``'s lock for as long as the returned file stays open (None
    where locks are unsupported)."""
    if fcntl is None:
        return None
    path = lock_path(store, run_id)
    path.parent.mkdir(exist_ok=True)
    handle = open(path, "wb")  # noqa: SIM115  (kept open: the lock lives as long as the file)
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise
    handle.write(str(os.getpid()).encode())
    handle.flush()
    return handle


def release(store: pathlib.Path, run_id: int, handle: IO[bytes] | None) -> None:
    """Drop the lock and its file."""
    if handle is None:
        return
    lock_path(store, run_id).unlink(missing_ok=True)
    handle.close()  # closing releases the flock


def writer_gone(store: pathlib.Path, run_id: int) -> bool:
    """True when run ``run_id`` has a lock file whose lock nobody holds: its writer died.
    False when the writer lives, or when there is no lock file (a run recorded by an
    older xwidgets, or on a system without locks): then nothing is known."""
    if fcntl is None:
        return False
    path = lock_path(store, run_id)
    try:
        handle = open(path, "rb")  # noqa: SIM115
    except FileNotFoundError:
        return False
    with handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False  # held: the writer lives
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        return True
