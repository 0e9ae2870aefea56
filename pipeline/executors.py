"""Where the decoding runs: this machine's threads or processes, or a Dask cluster.

The frames and hash stages hand their per-item work to an Executor: items go in, results come
back as they complete, with at most `in_flight` items submitted and not yet returned, so
memory stays bounded however long the list. The work function must be a module-level function
whose argument and result pickle (a Dask worker on another machine imports and runs it), and
it never touches the catalog or DIR/processed: the driver stores each result as it arrives.

    with open_executor(settings.default.run, workers=0, local="processes") as executor:
        for result in executor.map_unordered(hash_batch, batches):
            ...  # commit result

One implementation per backend: `LocalExecutor` (a thread or forkserver process pool, or
this process alone for one worker) and `DaskExecutor` (a `distributed.Client` connected to a
running scheduler; docs/scale-out.md).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import (
    FIRST_COMPLETED,
    Future,
    ProcessPoolExecutor,
    ThreadPoolExecutor,
    wait,
)
from concurrent.futures import Executor as FuturesPool
from multiprocessing.connection import Connection
from types import TracebackType
from typing import Any, Literal, TypeVar

from pipeline.config import RunConfig

Item = TypeVar("Item")
Result = TypeVar("Result")
LocalKind = Literal["threads", "processes"]
# Items submitted per worker before the first result is taken: enough that no worker waits
# for the driver, few enough that results held in memory stay a handful per worker.
IN_FLIGHT_PER_WORKER = 2


class ExecutorError(RuntimeError):
    """The executor cannot run at all (no Dask scheduler at the configured address)."""


class Executor(ABC):
    """Runs one function over many items; results come back in completion order."""

    workers: int

    @abstractmethod
    def map_unordered(
        self, fn: Callable[[Item], Result], items: Iterable[Item]
    ) -> Iterator[Result]:
        """fn(item) for every item, yielded as each completes. Items are drawn from the
        iterable only as room frees up. An exception in fn is raised here, for its item;
        results must carry whatever identifies their item."""

    @property
    def in_flight(self) -> int:
        return max(1, IN_FLIGHT_PER_WORKER * self.workers)

    def close(self) -> None:  # noqa: B027 - optional for backends that hold nothing
        """Release workers or connections."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()


class LocalExecutor(Executor):
    """This machine: `workers` threads (work that waits on ffmpeg) or processes (Python work
    that holds the GIL); a single worker runs in this process, with no pool at all."""

    def __init__(self, workers: int, kind: LocalKind) -> None:
        self.workers = max(1, workers)
        self._pool: FuturesPool | None = None
        self._lifeline: Connection | None = None
        if self.workers > 1 and kind == "threads":
            self._pool = ThreadPoolExecutor(max_workers=self.workers)
        elif self.workers > 1:
            # forkserver: a worker forked from a process that already ran OpenCV's thread
            # pool can hang; a clean server process avoids it.
            context = multiprocessing.get_context("forkserver")
            lifeline, self._lifeline = context.Pipe(duplex=False)
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=context,
                initializer=_exit_with_driver,
                initargs=(lifeline,),
            )

    def map_unordered(
        self, fn: Callable[[Item], Result], items: Iterable[Item]
    ) -> Iterator[Result]:
        if self._pool is None:
            yield from map(fn, items)
            return
        pool, source = self._pool, iter(items)
        pending: set[Future[Result]] = set()
        try:
            for item in source:
                pending.add(pool.submit(fn, item))
                if len(pending) >= self.in_flight:
                    break
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    result = future.result()
                    item = next(source, _END)
                    if item is not _END:
                        pending.add(pool.submit(fn, item))
                    yield result
        finally:
            for future in pending:
                future.cancel()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        if self._lifeline is not None:
            self._lifeline.close()
            self._lifeline = None


class DaskExecutor(Executor):
    """A Dask cluster: tasks go to the scheduler at `address`, which spreads them over its
    workers. Workers need the same crosscheck version, ffmpeg, and DIR/raw at the same path."""

    def __init__(self, address: str, connect_timeout_s: float = 30.0) -> None:
        from distributed import Client

        try:
            self._client = Client(address, timeout=connect_timeout_s, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise ExecutorError(
                f"cannot reach the Dask scheduler at {address}: {exc} "
                "(start one with `dask scheduler`, and workers with `dask worker ADDRESS`; "
                "docs/scale-out.md)"
            ) from exc
        self.workers = max(1, sum(self._client.nthreads().values()))

    def map_unordered(
        self, fn: Callable[[Item], Result], items: Iterable[Item]
    ) -> Iterator[Result]:
        from distributed import as_completed

        source = iter(items)
        running = as_completed(loop=self._client.loop)
        pending: set[Any] = set()

        def submit_next() -> None:
            item = next(source, _END)
            if item is not _END:
                future = self._client.submit(fn, item, pure=False)
                pending.add(future)
                running.add(future)

        try:
            for _ in range(self.in_flight):
                submit_next()
            for future in running:
                pending.discard(future)
                result = future.result()
                future.release()  # the cluster may forget it: its result is ours now
                submit_next()
                yield result
        finally:
            if pending:
                self._client.cancel(list(pending))

    def close(self) -> None:
        self._client.close()


def open_executor(run: RunConfig, workers: int, local: LocalKind) -> Executor:
    """The executor the configuration asks for. workers: the stage's local worker count
    (0 = one per core); a Dask cluster has as many as its workers' threads."""
    if run.executor == "dask":
        return DaskExecutor(run.scheduler)
    return LocalExecutor(workers or os.cpu_count() or 1, local)


_END: Any = object()


def _exit_with_driver(lifeline: Connection) -> None:
    """Pool initializer: end this worker once the driver is gone. A driver killed with
    SIGKILL cannot shut its pool down, and a forkserver's workers are not its children, so
    without this they wait on their task queue for ever (seen here: every kill left the
    forkserver and its workers behind). Only the driver holds the pipe's other end, so the
    read ends (EOF) the moment the driver dies, even before anyone reaps it."""

    def watch() -> None:
        with contextlib.suppress(EOFError, OSError):
            lifeline.recv_bytes()
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-driver", daemon=True).start()
