"""One `marsad up` per data_dir: an exclusive lock on a file there, held for the life of the process."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

LOCK_NAME = "marsad-up.lock"


class AlreadyRunning(RuntimeError):
    """Another process holds the data_dir's lock."""


def hold(data_dir: Path) -> IO[str]:
    """Take the data_dir's lock (and write this pid into it) or raise AlreadyRunning naming the holder. Keep the
    returned file open: the lock goes with it, and with the process however it ends (the kernel drops a flock
    with its last descriptor, so a SIGKILLed `up` leaves no stale lock). The descriptor is not inherited."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / LOCK_NAME
    fh = open(path, "a+", encoding="utf-8")  # held open on purpose: the lock lives as long as this file
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.seek(0)
        holder = fh.read().strip() or "unknown"
        fh.close()
        raise AlreadyRunning(f"{data_dir}: another `marsad up` is running with this data_dir (pid {holder}); "
                             "stop it first, or give this one its own data_dir in marsad.yaml") from None
    except OSError:  # a filesystem without flock (some network mounts): run unguarded rather than not at all
        return fh
    fh.seek(0)
    fh.truncate()
    fh.write(f"{os.getpid()}\n")
    fh.flush()
    return fh
