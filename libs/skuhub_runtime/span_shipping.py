"""Spans exported by a process of their own: what ``OTEL_TRACES_EXPORTER=otlp`` installs.

Encoding the OTLP request and posting it cost a service 8 to 10 µs of CPU per span in its
own interpreter, on the thread of the SDK's batch processor, holding the interpreter the
event loop needs (docs/benchmarks.md, "Traces exported"). Here the service only queues
each finished span as a few JSON values (:mod:`skuhub_runtime.span_wire`) and a thread
writes them, a batch at a time, to the standard input of a child process,
:mod:`skuhub_runtime.span_export_process`, which encodes and posts them with the
library's exporter on a core of its own.

Bounded like the SDK's batch processor: at most ``OTEL_BSP_MAX_QUEUE_SIZE`` spans wait,
beyond that new ones are dropped and counted in a warning. A frame (one OTLP request)
holds ``OTEL_BSP_MAX_EXPORT_BATCH_SIZE`` spans; fewer only on the schedule
(``OTEL_BSP_SCHEDULE_DELAY``), a flush or the stop. A collector that is down or
slow fills the pipe and then the queue: it costs spans, never a wait in the service. An
export process that dies is started again for a later batch.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import struct
import subprocess
import sys
import threading
import time
from typing import IO, Any

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor

from skuhub_runtime import span_wire

log = logging.getLogger(__name__)

FRAME_HEADER = struct.Struct(">I")
"""Each batch on the pipe: its length (4 bytes, big-endian), then the JSON document."""
EXPORT_PROCESS_MODULE = "skuhub_runtime.span_export_process"
"""The export process's module, run with ``python -m``."""
RESOURCE_VARIABLE = "SKUHUB_SPAN_RESOURCE"
"""The export process's environment variable holding the spans' resource."""
_RESTART_AFTER_S = 5.0
_WARN_EVERY_S = 60.0


class ShippingSpanProcessor(SpanProcessor):
    """Queues sampled spans and ships them, a batch per frame, to the export process.

    ``command`` starts the export process (``python -m
    skuhub_runtime.span_export_process``; the tests give others); it is started with the
    first batch and inherits the environment, plus the spans' resource.
    """

    def __init__(
        self,
        resource: Resource,
        *,
        max_queue_size: int,
        max_batch_size: int,
        schedule_delay_ms: int,
        export_timeout_ms: int = 10_000,
        command: list[str] | None = None,
    ) -> None:
        self._resource = resource
        self._max_queue, self._batch = max_queue_size, min(max_batch_size, max_queue_size)
        self._delay_s, self._timeout_s = schedule_delay_ms / 1000, export_timeout_ms / 1000
        self._command = command or [sys.executable, "-m", EXPORT_PROCESS_MODULE]
        # Spans the SDK finished, or direct spans already in their wire form (an item of
        # spans_alike holds many), each with the number of spans it holds.
        self._queue: collections.deque[tuple[int, ReadableSpan | list[Any]]] = collections.deque()
        self._queued = 0
        """Spans in the queue (changed by both threads: under the lock)."""
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._flush = threading.Event()
        self._idle = threading.Event()
        self._stopping = False
        self.dropped = 0
        """Spans dropped since the start: the queue was full or the export process down."""
        self._unreported = 0
        self._warned_at = -_WARN_EVERY_S
        self._child: subprocess.Popen[bytes] | None = None
        self._started_at: float | None = None
        self._worker = threading.Thread(target=self._run, name="skuhub-span-shipping", daemon=True)
        self._worker.start()

    def on_end(self, span: ReadableSpan) -> None:
        context = span.context
        if context is not None and context.trace_flags.sampled:
            self.ship(span)

    def ship(self, span: ReadableSpan | list[Any], spans: int = 1) -> None:
        """Queue sampled spans: one the SDK finished, a :func:`span_wire.item` (what
        :mod:`skuhub_runtime.direct_spans` hands over, turned into JSON values at once), or
        a :func:`span_wire.spans_alike` of ``spans`` spans (split across frames where one is
        full)."""
        with self._lock:
            queued = self._queued + spans
            full = queued > self._max_queue or self._stopping
            if not full:
                self._queue.append((spans, span))
                self._queued = queued
        if full:
            self._drop(spans)
        elif queued >= self._batch:
            self._wake.set()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Write every queued span to the export process (which posts them on its own)."""
        self._idle.clear()
        self._flush.set()
        self._wake.set()
        return self._idle.wait(timeout_millis / 1000)

    def shutdown(self) -> None:
        """Ship what is queued, close the pipe and wait (up to the export timeout) for the
        export process to post the rest; a process still posting then is ended."""
        self._stopping = True
        self._wake.set()
        self._worker.join(self._timeout_s)
        child = self._child
        if child is None:
            return
        if self._worker.is_alive():  # blocked on a full pipe: the export process is stuck
            child.kill()
            self._worker.join()
        with contextlib.suppress(OSError):
            if child.stdin is not None:
                child.stdin.close()
        try:
            child.wait(self._timeout_s)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()

    @property
    def child_pid(self) -> int | None:
        """The export process's pid (None before the first batch)."""
        return self._child.pid if self._child is not None else None

    def _run(self) -> None:
        while True:
            full = self._wake.wait(self._delay_s)
            self._wake.clear()
            # Woken by a full batch: full frames only, the rest waits for more spans (a
            # frame is a request: fewer, fuller ones cost the export process less). On the
            # schedule, a flush or the stop: everything.
            flush = self._flush.is_set()
            if flush:  # cleared only once seen: a flush asked meanwhile is seen next time
                self._flush.clear()
            stopping = self._stopping  # read once: a stop asked meanwhile is seen next time
            everything = not full or flush or stopping
            while self._queued >= self._batch or (everything and self._queue):
                self._ship(self._take())
            if everything:
                self._idle.set()
            self._warn_of_drops()
            if stopping:
                return

    def _take(self) -> list[list[Any]]:
        """Up to a batch of spans from the queue, in their wire form."""
        queue, taken = self._queue, []
        room = self._batch
        with self._lock:
            while queue and room > 0:
                spans, span = queue.popleft()
                if spans > room:  # a spans_alike item: what fits goes now, the rest next
                    span, rest = span_wire.split(span, room)  # type: ignore[arg-type]
                    queue.appendleft((spans - room, rest))
                    spans = room
                self._queued -= spans
                room -= spans
                taken.append(span)
        of_span = span_wire.of_span
        return [span if type(span) is list else of_span(span) for span in taken]  # type: ignore[arg-type]

    def _ship(self, spans: list[list[Any]]) -> None:
        pipe = self._pipe()
        if pipe is None:
            self._drop(span_wire.spans_in(spans))
            return
        try:
            document = span_wire.dumps(spans)
            pipe.write(FRAME_HEADER.pack(len(document)) + document)
            pipe.flush()
        except (BrokenPipeError, ValueError, OSError):
            count = span_wire.spans_in(spans)
            log.warning("the span export process is gone: %d spans dropped", count)
            self._drop(count)
            self._child = None
        except Exception:  # a span that cannot be written drops its batch only
            count = span_wire.spans_in(spans)
            log.exception("could not write %d spans for export", count)
            self._drop(count)

    def _pipe(self) -> IO[bytes] | None:
        child = self._child
        if child is not None and child.poll() is None and child.stdin is not None:
            return child.stdin
        now = time.monotonic()
        if self._started_at is not None:  # it ran and is gone: again, but not in a loop
            if self._stopping or now - self._started_at < _RESTART_AFTER_S:
                return None
            log.warning("the span export process exited: starting it again")
        self._started_at = now
        env = {**os.environ, RESOURCE_VARIABLE: span_wire.resource_document(self._resource)}
        # A session of its own: a Ctrl-C meant for the service reaches the export process
        # only as the end of its input, after the service's last spans.
        self._child = subprocess.Popen(
            self._command, stdin=subprocess.PIPE, env=env, start_new_session=True
        )
        return self._child.stdin

    def _drop(self, spans: int) -> None:
        with self._lock:
            self.dropped += spans
            self._unreported += spans

    def _warn_of_drops(self) -> None:
        now = time.monotonic()
        if now - self._warned_at < _WARN_EVERY_S:
            return
        with self._lock:
            unreported, self._unreported = self._unreported, 0
        if unreported:
            log.warning(
                "%d spans dropped: the export queue (OTEL_BSP_MAX_QUEUE_SIZE=%d) was full or "
                "the export process was down",
                unreported,
                self._max_queue,
            )
            self._warned_at = now
