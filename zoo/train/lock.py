"""A model directory's lock: one run at a time writes checkpoints, logs and results there.

Two runs on one `--model_dir` would interleave their checkpoints, history rows
and exports. `ModelDirLock` holds an exclusive `fcntl.flock` on
`MODEL_DIR/run.lock` for the whole run, and writes the holder's pid and host
into it so that a refused run can say who holds it. The kernel drops a flock
when its process dies, so the lock of a killed run is free; its file is still
there with the dead run's pid, which is taken over with a warning.
"""

import errno
import fcntl
import json
import os
import socket

from absl import logging

__all__ = ["LOCK_FILE", "ModelDirLock", "ModelDirLocked"]

LOCK_FILE = "run.lock"


class ModelDirLocked(RuntimeError):
    """Another process is running in the model directory."""


def _alive(pid):
    """Whether process `pid` (of this host) exists."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)  # Signal 0: only asks whether the process exists.
    except ProcessLookupError:
        return False
    except PermissionError:  # Someone else's process.
        return True
    return True


def _holder_text(holder):
    if not holder:
        return "another process"
    return f"pid {holder.get('pid')} on host {holder.get('host')}"


class ModelDirLock:
    """An exclusive lock of `directory`, held from `acquire` to `release`.

    Args:
        directory: the model directory (it must exist).
    """

    def __init__(self, directory):
        self.directory = directory
        self.path = os.path.join(directory, LOCK_FILE)
        self._fd = None

    @staticmethod
    def _read(fd):
        os.lseek(fd, 0, os.SEEK_SET)
        text = os.read(fd, 4096).decode("utf-8", "replace").strip()
        try:
            holder = json.loads(text) if text else None
        except ValueError:
            return None
        return holder if isinstance(holder, dict) else None

    def _refuse(self, fd, holder):
        os.close(fd)
        raise ModelDirLocked(
            f"{self.directory} is in use by {_holder_text(holder)} (lock file {self.path}); "
            "wait for that run to end or pass another --model_dir.")

    def acquire(self):
        """Takes the lock, or raises `ModelDirLocked` naming the directory and its holder."""
        here = {"pid": os.getpid(), "host": socket.gethostname()}
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as error:
                if error.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    self._refuse(fd, self._read(fd))
                # No flock on this file system: the pid check below still applies.
                logging.warning("cannot flock %s (%s); relying on its pid only.",
                                self.path, error.strerror)
            try:
                same_file = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same_file = False
            if same_file:
                break
            os.close(fd)  # Its holder removed it as we opened it: lock the new one.
        previous = self._read(fd)
        if previous and previous != here:
            if previous.get("host") == here["host"] and _alive(previous.get("pid")):
                self._refuse(fd, previous)
            logging.warning("taking over the stale lock %s of %s, which is no longer running.",
                            self.path, _holder_text(previous))
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, json.dumps(here).encode())
        os.fsync(fd)
        self._fd = fd
        return self

    def release(self):
        """Removes the lock file and drops the lock (no-op if not held)."""
        if self._fd is None:
            return
        try:
            os.remove(self.path)
        except OSError:
            pass
        os.close(self._fd)
        self._fd = None

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc_info):
        self.release()
