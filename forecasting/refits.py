"""When a forecaster is refitted, on which actuals, and where the fit runs.

A forecaster is fitted on the warm-up history before the run's first interval, then refitted
every ``every`` intervals on the newest actuals. An operator trains a model while the old one
is in service and deploys it when it is ready, so a refit's actuals end ``lead`` intervals
before the model goes into service: the refit in service from interval ``k`` is trained on the
actuals before interval ``k - lead`` (:meth:`Refits.data_end`). With ``lead = 0`` it is trained
on everything before ``k``, the run waiting for the fit.

Which actuals a fit sees is fixed by ``k`` and ``lead`` alone, so where it runs changes no
number: in ``background`` a refit starts in a worker process (one, kept for the run: this
module run as ``python -m``, :mod:`workers.pipe`) as soon as its actuals are in, and runs on
the machine's other core while the run goes on; otherwise (or when no worker starts, or it
dies) it runs in the run's own process when it is due, on the same actuals. A fit runs on a
clone of the forecaster (:func:`sklearn.base.clone`: same parameters, same seed), so it gives
the floats a refit of the forecaster itself gives.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from workers.pipe import PipeWorker, WorkerGoneError, serve

#: A fit's inputs: the actuals (rows, series) [MW], their interval starts, the series' kinds.
FitData = tuple[np.ndarray, pd.DatetimeIndex, np.ndarray]


def fit_copy(forecaster: Any, data: FitData) -> tuple[Any, float]:
    """A clone of ``forecaster`` fitted on ``data``, and the fit's CPU time [s] (in the process
    it ran in)."""
    from sklearn.base import clone

    model = clone(forecaster)
    cpu = time.process_time()
    y, times, kinds = data
    model.fit(y, times, kind=kinds)
    return model, time.process_time() - cpu


def _handle(request: tuple[int, Any, FitData]) -> tuple[int, Any, float]:
    """The worker's side: (service, forecaster, data) -> (service, fitted clone, CPU [s])."""
    service, forecaster, data = request
    return (service, *fit_copy(forecaster, data))


class Refits:
    """The refit schedule of a forecaster and its fits in a background worker.

    Parameters
    ----------
    every : int
        Refit every that many intervals [intervals] (a refit is in service from each multiple
        of ``every``, the first from interval 0).
    lead : int
        Intervals between the end of a refit's actuals and its service [intervals] (>= 0).
    n_intervals : int
        The run's intervals (no refit is prepared for service past them).
    background : bool
        Run refits in a worker process (see the module docstring).
    """

    def __init__(self, every: int, lead: int, n_intervals: int, background: bool) -> None:
        if every < 1 or lead < 0:
            raise ValueError(f"refits need every >= 1 and lead >= 0, got {every} and {lead}")
        self.every = every
        self.lead = lead
        self.n_intervals = n_intervals
        self.background = background and lead > 0
        self._next = 0  # the next service interval a refit is due for
        self._started = 0  # service intervals below this have their fit started (or not)
        self._pending: set[int] = set()  # service intervals whose fit the worker has
        self._worker: PipeWorker | None = None
        #: Refits run in the worker, and their CPU time there [s].
        self.in_background = 0
        self.background_cpu_s = 0.0

    def data_end(self, k: int) -> int:
        """The run's interval before which the refit in service from ``k`` saw actuals."""
        return max(0, k - self.lead) if k > 0 else 0

    def due(self, k: int) -> int | None:
        """The service interval of the refit due at interval ``k`` (the newest one not yet in
        service whose interval is ``<= k``), or None."""
        if k < self._next:
            return None
        due = k - k % self.every
        self._next = due + self.every
        return due

    def start(self, k: int, forecaster: Any, data: Callable[[int], FitData]) -> None:
        """At interval ``k`` (actuals before ``k`` in), start in the worker every refit whose
        actuals are in; ``data(end)`` gives the actuals before the run's interval ``end``."""
        if not self.background:
            return
        self._started = max(self._started, self._next)
        while self._started < self.n_intervals and self.data_end(self._started) <= k:
            service = self._started
            self._started += self.every
            if service == 0:
                continue  # the first fit is needed at once
            try:
                if self._worker is None:
                    self._worker = PipeWorker(__name__)
                self._worker.send((service, forecaster, data(self.data_end(service))))
            except (OSError, WorkerGoneError):  # no worker: refits run here, same actuals
                self._stop()
                return
            self._pending.add(service)

    def take(self, service: int) -> tuple[Any, float] | None:
        """The forecaster fitted in the worker for ``service`` and its CPU time [s], or None
        (not started there, or failed there: fit it here)."""
        if self._worker is None or service not in self._pending:
            return None
        self._pending = {s for s in self._pending if s > service}  # older: skipped services
        try:
            while True:
                got, fitted, cpu = self._worker.recv()
                if got == service:
                    break
        except WorkerGoneError:  # the worker died (or could not unpickle): fit it here
            self._stop()
            return None
        self.in_background += 1
        self.background_cpu_s += cpu
        return fitted, cpu

    def _stop(self) -> None:
        self.background = False
        self.close()

    def close(self) -> None:
        """Stop the worker (pending fits are dropped)."""
        self._pending.clear()
        worker, self._worker = self._worker, None
        if worker is not None:
            worker.close()


if __name__ == "__main__":  # the worker process (Refits starts it)
    serve(_handle)
