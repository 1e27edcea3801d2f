"""The service's limits, one frozen dataclass (the ``serve`` command's flags fill it)."""

from __future__ import annotations

import math
from dataclasses import dataclass

MIB = 1024 * 1024


@dataclass(frozen=True)
class ServiceSettings:
    """Limits of one service instance; every one answers with its own error status.

    - `max_upload_bytes`: largest accepted image upload (413 above it), checked while the body
      streams in, so a larger upload is never held in memory;
    - `max_pixels`: largest accepted image area (413 above it), read from the image header before
      decoding: a small file may claim a huge size (a decompression bomb);
    - `max_queue`: searches that may wait for a worker thread; one more is answered 503 with
      ``Retry-After`` instead of queueing without bound;
    - `worker_threads`: searches running at once (each a forward pass of the model);
    - `timeout_s`: a search (upload, queue wait and inference) taking longer is answered 504;
    - `retry_after_s`: the ``Retry-After`` a 503 suggests.
    """

    max_upload_bytes: int = 10 * MIB
    max_pixels: int = 40_000_000
    max_queue: int = 8
    worker_threads: int = 1
    timeout_s: float = 30.0
    retry_after_s: int = 2

    def __post_init__(self) -> None:
        checks = {
            "max_upload_bytes": self.max_upload_bytes >= 1,
            "max_pixels": self.max_pixels >= 1,
            "max_queue": self.max_queue >= 0,
            "worker_threads": self.worker_threads >= 1,
            "timeout_s": math.isfinite(self.timeout_s) and self.timeout_s > 0,
            "retry_after_s": self.retry_after_s >= 0,
        }
        bad = [f"{name}={getattr(self, name)!r}" for name, ok in checks.items() if not ok]
        if bad:
            raise ValueError(f"ServiceSettings: out of range: {', '.join(bad)}")
