"""Run blocking work (decoding, the model's forward pass) off the event loop, with a bounded queue.

A fixed pool of worker threads runs the jobs; `capacity` = threads + `max_queue` jobs may be
admitted at once, running or waiting.  One more is refused at once (503 with ``Retry-After``)
rather than queued without bound: under overload clients learn to come back, and the latency of
the admitted ones stays bounded.  A slot is freed when its job really ends, not when its request
gives up (a thread cannot be stopped): a job timed out while running still holds its slot, so
the bound holds for the threads' real work.  A job timed out while still waiting is cancelled
and never runs.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

from fashionvision.service.errors import ApiError

T = TypeVar("T")


class InferenceRunner:
    def __init__(self, worker_threads: int, max_queue: int, retry_after_s: int):
        self.capacity = worker_threads + max_queue
        self.retry_after_s = retry_after_s
        self._admitted = 0
        self._lock = threading.Lock()  # jobs end (and free their slot) in worker threads
        self._executor = ThreadPoolExecutor(worker_threads, thread_name_prefix="fv-inference")

    @property
    def admitted(self) -> int:
        """Jobs running or waiting now."""
        return self._admitted

    def _release(self, _: Future) -> None:
        with self._lock:
            self._admitted -= 1

    def submit(self, fn: Callable[..., T], *args: object) -> Future[T]:
        """Start `fn(*args)` in a worker thread; ApiError 503 when `capacity` jobs are admitted."""
        with self._lock:
            if self._admitted >= self.capacity:
                raise ApiError(
                    503,
                    "busy",
                    "the server is busy with other searches; try again shortly",
                    headers={"Retry-After": str(self.retry_after_s)},
                )
            self._admitted += 1
        try:
            future = self._executor.submit(fn, *args)
        except BaseException:
            self._release(None)
            raise
        future.add_done_callback(self._release)
        return future

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        """`fn(*args)` in a worker thread, awaited; cancelling the caller cancels a waiting job."""
        return await asyncio.wrap_future(self.submit(fn, *args))

    def shutdown(self) -> None:
        # Running jobs finish in their threads; waiting ones are dropped.
        self._executor.shutdown(wait=False, cancel_futures=True)
