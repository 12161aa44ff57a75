"""The figures of one benchmark run as JSON (each script's `--json FILE`), read by `python -m bench`.

    {"benchmark": "ingest", "params": {"rows": 1000000},
     "figures": [{"name": "upload -> succeeded (new cases)", "value": 41.2, "unit": "s"}, ...]}
"""
from __future__ import annotations

import json
from pathlib import Path


def save(path: Path | str, benchmark: str, params: dict, figures: list[tuple[str, float, str]]) -> None:
    """Write the (name, value, unit) figures of a run of `benchmark` with `params`."""
    Path(path).write_text(json.dumps({
        "benchmark": benchmark,
        "params": params,
        "figures": [{"name": name, "value": round(float(value), 4), "unit": unit} for name, value, unit in figures],
    }, indent=2) + "\n")


def load(path: Path | str) -> dict:
    """A run's figures, as `save` wrote them."""
    return json.loads(Path(path).read_text())
