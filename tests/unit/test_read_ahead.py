"""ReadAhead: an iterator run in a thread, a bounded number of items ahead of its consumer."""
import threading
import time

import pytest

from domain.read_ahead import ReadAhead


def wait_until(condition, timeout=5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.001)


def test_items_come_in_order_and_the_producers_error_reaches_the_consumer():
    def items():
        yield from range(5)
        raise ValueError("bad row")

    received = []
    with ReadAhead(items(), depth=2) as ahead, pytest.raises(ValueError, match="bad row"):
        for item in ahead:
            received.append(item)
    assert received == [0, 1, 2, 3, 4]


def test_ready_tells_whether_the_next_item_is_already_there():
    release = threading.Event()

    def items():
        yield "first"
        release.wait(5)
        yield "second"

    with ReadAhead(items(), depth=2) as ahead:
        received = iter(ahead)
        wait_until(ahead.ready)
        assert next(received) == "first"
        assert not ahead.ready()  # the producer waits for the event
        release.set()
        wait_until(ahead.ready)
        assert next(received) == "second"
        wait_until(ahead.ready)  # the end is there too
        assert list(received) == []


def test_the_producer_stays_at_most_depth_items_ahead_and_stops_when_the_consumer_leaves():
    produced = []

    def items():
        for n in range(1000):
            produced.append(n)
            yield n

    with ReadAhead(items(), depth=3):
        wait_until(lambda: len(produced) >= 4)
        time.sleep(0.05)
        assert len(produced) == 4  # three queued, the fourth waiting for room
    assert len(produced) < 1000  # leaving the block stopped it
