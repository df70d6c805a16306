"""A worker process that serves one module's requests over pipes, started as ``python -m``.

A worker is a fresh interpreter running ``python -m <module>`` (the module's ``__main__``
block calls :func:`serve`), with the run's import path; requests and replies are pickles over
its stdin and stdout. Not :mod:`multiprocessing`: its ``spawn`` and ``forkserver`` import the
run's ``__main__`` again in the child, so a user's script without an ``if __name__ ==
"__main__"`` guard would run a second time there (a second run, writing the same folder), and
``fork`` copies a process whose OpenMP and BLAS thread pools are not safe to fork.

The worker reads requests as they come (a reader thread), so the run never waits on a send
while the worker is busy; replies wait in the pipe until the run takes them.

A worker that cannot start, or dies, raises :class:`WorkerGoneError` at the next request or reply;
the callers then do the work themselves (the worker only saves time). A worker its caller did
not close is stopped when the caller's object is collected, or at the latest at exit.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import queue
import subprocess
import sys
import threading
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

_END = object()

#: Peak resident memory of each worker this process has stopped [MiB] (benchmarks report it).
PEAKS_MIB: list[float] = []


class WorkerGoneError(Exception):
    """The worker process is not there (did not start, died, or was closed)."""


def _stop(process: subprocess.Popen[bytes]) -> None:
    """End ``process``: close its requests (its loop ends), then wait for it, or kill it."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path(f"/proc/{process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                PEAKS_MIB.append(int(line.split()[1]) / 1024)
    with contextlib.suppress(OSError, ValueError):
        if process.stdin is not None:
            process.stdin.close()
    try:
        process.wait(timeout=2)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    if process.stdout is not None:
        process.stdout.close()


class PipeWorker:
    """The run's end of a worker process (see the module docstring).

    Parameters
    ----------
    module : str
        The module run as ``python -m module``; its ``__main__`` block calls :func:`serve`.
    """

    def __init__(self, module: str) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)  # the run's imports
        self._process: subprocess.Popen[bytes] | None = subprocess.Popen(
            [sys.executable, "-m", module],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
        )
        self._finalizer = weakref.finalize(self, _stop, self._process)

    @property
    def alive(self) -> bool:
        """Whether the worker is (still) there."""
        return self._process is not None and self._process.poll() is None

    def _pipe(self, name: str) -> IO[bytes]:
        pipe = None if self._process is None else getattr(self._process, name)
        if pipe is None:
            raise WorkerGoneError("the worker is closed")
        return pipe

    def send(self, message: Any) -> None:
        """Send ``message`` (any picklable object; the worker handles them in order)."""
        pipe = self._pipe("stdin")
        try:
            pickle.dump(message, pipe, protocol=pickle.HIGHEST_PROTOCOL)
            pipe.flush()
        except (OSError, ValueError) as exc:
            raise WorkerGoneError(f"the worker is gone: {exc}") from exc

    def recv(self) -> Any:
        """The next reply (waits for it)."""
        pipe = self._pipe("stdout")
        try:
            return pickle.load(pipe)
        except (EOFError, OSError, ValueError, pickle.UnpicklingError) as exc:
            raise WorkerGoneError(f"the worker is gone: {exc!r}") from exc

    def close(self) -> None:
        """Stop the worker (replies not yet taken are dropped)."""
        self._process = None
        self._finalizer()  # runs _stop once


def serve(handle: Callable[[Any], Any]) -> None:
    """The worker's loop: hand each request to ``handle`` in order; a reply that is not None
    goes back, in order. Requests are read by a thread as they come, so a sender never waits
    for ``handle``. Ends when the run closes its end; an error in ``handle`` (or a request that
    does not unpickle) ends the worker, and the run sees it gone."""
    requests, out = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing else may write into the replies' pipe
    inbox: queue.Queue[Any] = queue.Queue()

    def read() -> None:
        try:
            while True:
                inbox.put(pickle.load(requests))
        except BaseException:  # the end of the requests, or one that does not unpickle
            inbox.put(_END)

    threading.Thread(target=read, daemon=True).start()
    while (request := inbox.get()) is not _END:
        reply = handle(request)
        if reply is not None:
            pickle.dump(reply, out, protocol=pickle.HIGHEST_PROTOCOL)
            out.flush()
