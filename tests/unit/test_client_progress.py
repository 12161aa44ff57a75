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
