"""What a benchmark needs to run a job's use case in its own process (the `--steps` runs)."""
from __future__ import annotations


class NoProgress:
    """A job's progress sink that reports nowhere: the step timings are the figures."""

    def advance(self, done: int, *, force: bool = False) -> None:
        """Nothing to report."""

    def set_total(self, total: int | None) -> None:
        """Nothing to report."""
