"""Where the per-image work runs: in this process, in worker processes, or on a Dask cluster.

Every executor has the same small surface: ``submit(fn, *args)`` returns a future with
``.result()``; ``workers`` is how many images run at once; ``restart()`` replaces a pool a
crashed worker broke; ``close(cancel=...)`` ends it. The run loop keeps a bounded window of
futures (a few per worker), so memory stays flat however many images there are.

* :class:`SerialExecutor` (``--jobs 1``): runs each image in the main process, when submitted.
* :class:`ProcessExecutor` (``--jobs N``): a :class:`concurrent.futures.ProcessPoolExecutor`
  (``fork`` on Linux, so families registered at run time exist in the workers). Workers ignore
  SIGINT (the main process stops the run cleanly) and exit if the main process dies. A worker that dies (a segfault in a decoder) breaks the pool; the run
  loop restarts it and re-runs the images that were in flight one at a time, so only the image
  that kills a worker becomes an error row.
* :class:`DaskExecutor` (``--executor dask [--scheduler ADDRESS]``): the same task on a Dask
  distributed cluster; without an address, a :class:`distributed.LocalCluster` of ``jobs``
  single-threaded worker processes.
"""

from __future__ import annotations

import concurrent.futures as cf
import os
import signal
import sys
from typing import Any, Callable, Sequence

from lenscore.errors import MissingDependencyError, UsageError


def default_jobs() -> int:
    """The cores this process may use (CPU affinity / cgroup-restricted where the OS says so)."""
    if hasattr(os, "process_cpu_count"):
        n = os.process_cpu_count()  # type: ignore[attr-defined]
    elif hasattr(os, "sched_getaffinity"):
        n = len(os.sched_getaffinity(0))
    else:
        n = os.cpu_count()
    return max(1, int(n or 1))


class SerialExecutor:
    """Runs each task when submitted, in this process. Exceptions land in the future;
    ``BaseException`` (an interrupt) propagates at once."""

    workers = 1
    name = "serial"

    def submit(self, fn: Callable[..., Any], *args: Any) -> cf.Future:
        fut: cf.Future = cf.Future()
        try:
            fut.set_result(fn(*args))
        except Exception as e:
            fut.set_exception(e)
        return fut

    def restart(self) -> None:
        pass

    def close(self, *, cancel: bool = False) -> None:
        pass


#: set in worker processes of :class:`ProcessExecutor` (where a hung image may end the process)
_IN_POOL_WORKER = False


class ImageTimeout(BaseException):
    """An image took longer than its time limit. A ``BaseException`` so that no
    ``except Exception`` in a decoder wrapper or a metric swallows it."""


def _hard_grace(limit: float) -> float:
    return max(2.0, min(30.0, 0.1 * limit))


def call_with_time_limit(limit: float | None, fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)``, stopped after ``limit`` seconds of wall time with :class:`ImageTimeout`.

    * Soft limit (wherever the caller runs in a main thread: a worker process, or ``--jobs 1``
      in lenscore's own process): SIGALRM raises ImageTimeout at ``limit``. That stops Python
      code and any C code that returns to the interpreter (sleeps, I/O waits).
    * Hard limit (worker processes only): a decoder stuck inside C code never returns to the
      interpreter, so :mod:`faulthandler`'s watchdog thread, which needs no GIL, ends the worker
      ``_hard_grace(limit)`` seconds later; the run loop then re-runs the images in flight one at
      a time and the one that hangs again becomes an error row.
    * In other threads (Dask workers) there is no limit.
    """
    import threading

    if not limit or limit <= 0 or threading.current_thread() is not threading.main_thread():
        return fn(*args)

    def on_alarm(signum: int, frame: Any) -> None:
        raise ImageTimeout(limit)

    old_handler = signal.signal(signal.SIGALRM, on_alarm)
    old_timer = signal.setitimer(signal.ITIMER_REAL, float(limit))
    hard = _IN_POOL_WORKER
    if hard:
        import faulthandler

        faulthandler.dump_traceback_later(float(limit) + _hard_grace(limit), exit=True,
                                          file=_devnull())
    try:
        return fn(*args)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        if hard:
            import faulthandler

            faulthandler.cancel_dump_traceback_later()
        signal.signal(signal.SIGALRM, old_handler)
        if old_timer[0] > 0:  # someone else's alarm: put it back
            signal.setitimer(signal.ITIMER_REAL, *old_timer)


_DEVNULL: Any = None


def _devnull() -> Any:
    global _DEVNULL
    if _DEVNULL is None:
        _DEVNULL = open(os.devnull, "w")
    return _DEVNULL


def _worker_init() -> None:
    """Worker processes: Ctrl-C is for the main process; default SIGTERM; exit when the main
    process is gone (killed with SIGKILL, it cannot stop its workers, and a forked worker
    waiting for work would otherwise wait forever).

    OpenCV's thread count is deliberately left alone: ``cv2.setNumThreads`` in a child forked
    after the parent used OpenCV can deadlock on the pool state the fork copied (seen here with
    OpenCV 4.14), and the families gain almost nothing from OpenCV threads (measured: the suite
    costs the same CPU per image with 1 or 2 threads), so two workers do not oversubscribe.
    """
    global _IN_POOL_WORKER

    _IN_POOL_WORKER = True
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _watch_parent(os.getppid())


def _watch_parent(parent: int, interval: float = 0.5) -> None:
    import threading
    import time

    def watch() -> None:
        while True:
            time.sleep(interval)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="lenscore-parent-watch", daemon=True).start()


class ProcessExecutor:
    """``jobs`` worker processes (started lazily, on the first submitted image)."""

    name = "process"

    def __init__(self, jobs: int):
        import multiprocessing as mp

        self.workers = max(1, int(jobs))
        self._ctx = mp.get_context("fork" if sys.platform.startswith("linux") else "spawn")
        self._pool: cf.ProcessPoolExecutor | None = None

    def _get(self) -> cf.ProcessPoolExecutor:
        if self._pool is None:
            self._pool = cf.ProcessPoolExecutor(max_workers=self.workers, mp_context=self._ctx,
                                                initializer=_worker_init)
        return self._pool

    def submit(self, fn: Callable[..., Any], *args: Any) -> cf.Future:
        return self._get().submit(fn, *args)

    def restart(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    def close(self, *, cancel: bool = False) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        if cancel:
            # stop now: drop queued images, end the workers (their in-flight image is dropped;
            # it was never written, so --resume computes it again)
            procs = list((getattr(pool, "_processes", None) or {}).values())
            pool.shutdown(wait=False, cancel_futures=True)
            for p in procs:
                try:
                    p.terminate()
                except Exception:
                    pass
            for p in procs:
                try:
                    p.join(timeout=5)
                except Exception:
                    pass
        else:
            pool.shutdown(wait=True)


class DaskExecutor:
    """The per-image task on a Dask distributed cluster.

    Parameters
    ----------
    scheduler : str, optional
        Address of a running scheduler (``tcp://host:8786``). Without it, a LocalCluster of
        ``jobs`` worker processes with one thread each is started (and closed at the end).
    processes : bool
        For the LocalCluster only: worker processes (default) or threads in this process.
    """

    name = "dask"

    def __init__(self, scheduler: str | None = None, *, jobs: int = 1, processes: bool = True,
                 timeout: str = "20s"):
        try:
            import logging

            from distributed import Client, LocalCluster
        except ImportError:
            raise MissingDependencyError("distributed", "dask", "--executor dask") from None
        self._cluster = None
        if scheduler:
            try:
                self.client = Client(scheduler, timeout=timeout, set_as_default=False)
            except (OSError, TimeoutError) as e:
                raise UsageError(f"cannot reach the Dask scheduler at {scheduler} ({e}); check the "
                                 f"address (tcp://host:8786) and that the scheduler runs") from None
        else:
            self._cluster = LocalCluster(n_workers=max(1, int(jobs)), threads_per_worker=1,
                                         processes=processes, dashboard_address=None,
                                         silence_logs=logging.ERROR)
            self.client = Client(self._cluster, set_as_default=False)
        nthreads = self.client.nthreads()
        self.workers = max(1, sum(nthreads.values()) if nthreads else int(jobs))

    def submit(self, fn: Callable[..., Any], *args: Any) -> Any:
        return self.client.submit(fn, *args, pure=False)

    def restart(self) -> None:
        pass  # Dask reschedules the tasks of a lost worker itself

    def close(self, *, cancel: bool = False) -> None:
        try:
            self.client.close()
        finally:
            if self._cluster is not None:
                self._cluster.close()


def make_executor(kind: str = "process", *, jobs: int = 1, scheduler: str | None = None) -> Any:
    """The executor for ``--executor KIND`` (``process`` with ``jobs == 1`` runs serially)."""
    if kind == "dask":
        return DaskExecutor(scheduler, jobs=jobs)
    if scheduler:
        raise UsageError("--scheduler needs --executor dask")
    if kind not in ("process", "serial"):
        raise UsageError(f"unknown executor '{kind}': expected 'process' or 'dask'")
    if kind == "serial" or jobs <= 1:
        return SerialExecutor()
    return ProcessExecutor(jobs)


def parallel_map(fn: Callable[[Any], Any], items: Sequence[Any], *, jobs: int = 1) -> list[Any]:
    """``[fn(x) for x in items]``, in ``jobs`` worker processes when that helps.

    The workers are started by a forkserver, not forked from this process: forking after this
    process has used OpenCV's thread pool can deadlock the child. For batch jobs (demo renders,
    validation sweeps) whose items are plain data and whose ``fn`` is a module-level function.
    """
    if jobs <= 1 or len(items) <= 1:
        return [fn(x) for x in items]
    import multiprocessing as mp

    with cf.ProcessPoolExecutor(jobs, mp_context=mp.get_context("forkserver")) as pool:
        return list(pool.map(fn, items, chunksize=1))
