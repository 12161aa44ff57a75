"""The CLI's progress line: a bar redrawn in place on a terminal, one line per change on a pipe."""
from __future__ import annotations

import io

from client.cli import ProgressLine


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def job(state, done, total):
    return {"state": state, "progress": {"done": done, "total": total}}


def test_the_bar_fills_with_the_share_done():
    line = ProgressLine("rows", width=10, stream=io.StringIO())

    assert line.render(job("running", 2_500, 10_000)) == "running   [##--------] 2,500/10,000 rows  25%"
    assert line.render(job("succeeded", 10_000, 10_000)) == "succeeded [##########] 10,000/10,000 rows 100%"


def test_before_the_total_is_known_only_the_count_shows():
    line = ProgressLine("rows", stream=io.StringIO())

    assert line.render(job("queued", 0, None)) == "queued    0 rows"


def test_on_a_terminal_the_line_is_redrawn_in_place_and_ended_once():
    out = Terminal()
    line = ProgressLine("rows", width=4, stream=out)

    for done in (0, 0, 50, 100):
        line(job("running", done, 100))
    line.close()

    assert out.getvalue().count("\r") == 3  # the repeated 0 is not drawn again
    assert out.getvalue().endswith("100/100 rows 100%\n") and out.getvalue().count("\n") == 1


def test_on_a_pipe_each_change_is_its_own_line():
    out = io.StringIO()
    line = ProgressLine("cases", width=4, stream=out)

    for done in (0, 0, 5, 10):
        line(job("running", done, 10))
    line.close()

    assert out.getvalue().splitlines() == [
        "running   [----] 0/10 cases   0%", "running   [##--] 5/10 cases  50%", "running   [####] 10/10 cases 100%"]


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_an_upload_shows_megabytes_and_the_time_left_at_the_rate_seen_so_far():
    clock = Clock()
    line = ProgressLine("bytes", width=10, stream=io.StringIO(), clock=clock)

    assert line.render(job("running", 0, 60_000_000)) == "running   [----------] 0.0/60.0 MB   0%"
    clock.now += 10  # 15 MB in 10 s: 45 MB more take 30 s
    assert line.render(job("running", 15_000_000, 60_000_000)) == "running   [##--------] 15.0/60.0 MB  25% 0:30 left"
    clock.now += 30
    assert line.render(job("succeeded", 60_000_000, 60_000_000)) == "succeeded [##########] 60.0/60.0 MB 100%"
