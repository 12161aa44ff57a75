"""Read-ahead: an iterator run in a thread, a few items ahead of its consumer."""
from __future__ import annotations

import queue
import threading
from collections.abc import Iterator


class ReadAhead:
    """Runs an iterator in a thread, up to `depth` items ahead of its consumer.

    Parsing and checking rows is Python work; storing them is PostgreSQL's. With the reading in
    a thread, the next batch is prepared while the database stores the last one (the database
    driver releases the GIL while it waits). The producer's exceptions reach the consumer.
    """

    _ITEM, _END, _ERROR = range(3)

    def __init__(self, items: Iterator, depth: int = 2):
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._produce, args=(items,), name="read-ahead", daemon=True)

    def __enter__(self) -> ReadAhead:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()  # a consumer that gave up must not leave the producer blocked
        self._thread.join()

    def ready(self) -> bool:
        """Whether the next item (or the end) is already there."""
        return not self._queue.empty()

    def __iter__(self) -> Iterator:
        while True:
            kind, value = self._queue.get()
            if kind == self._END:
                return
            if kind == self._ERROR:
                raise value
            yield value

    def _produce(self, items: Iterator) -> None:
        try:
            for item in items:
                if not self._put(self._ITEM, item):
                    return
            self._put(self._END, None)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, which re-raises it
            self._put(self._ERROR, exc)

    def _put(self, kind: int, value) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put((kind, value), timeout=0.1)
                return True
            except queue.Full:
                continue
        return False
