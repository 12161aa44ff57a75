"""Prometheus metrics at `/metrics`: outside /api, behind METRICS_TOKEN, no personal data in any of them.

Every figure comes from a store all processes share, read when Prometheus scrapes, so whichever
gunicorn worker (or web container) answers gives the same totals, with no per-process state to
merge: HTTP latency is accumulated in Redis by every web process, jobs and ingested rows are read
from the jobs table, queue depth from the broker's lists. See docs/operations-metrics.md.
"""
from __future__ import annotations

import hmac
import logging
import time
from collections import defaultdict

from flask import Blueprint, Flask, Response, g, request
from kombu.transport.redis import Channel
from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.exposition import choose_encoder
from prometheus_client.utils import floatToGoString

from dcoe.queue import TASK_FOR_JOB
from domain.jobs import JobState, JobType
from store.metrics import job_figures
from web.errors import problem
from web.extensions import redis_client, settings, unit_of_work

log = logging.getLogger(__name__)

blp = Blueprint("metrics", __name__)

HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
JOB_BUCKETS = (0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 1800.0, 3600.0)
QUEUES = tuple(sorted({queue for _task, queue in TASK_FOR_JOB.values()}))
_HTTP_KEY = "dcoe:metrics:http"  # one hash: "method|route|status|le" -> count, "...|sum" -> seconds
_PAUSE_SECONDS = 30.0  # after Redis failed, requests stop trying to record for this long


@blp.route("/metrics")
def metrics():
    """The figures in Prometheus' text format (or OpenMetrics when the scraper asks for it)."""
    refused = _refusal(settings().metrics_token, request.headers.get("Authorization", ""))
    if refused:
        return problem(401, "Unauthorized", refused, headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Figures())
    encode, content_type = choose_encoder(request.headers.get("Accept", ""))
    return Response(encode(registry), content_type=content_type)


def _refusal(token: str | None, authorization: str) -> str | None:
    """Why a scrape is refused (no token configured, none sent, a wrong one), or None to serve it."""
    if not token:
        return "/metrics is closed: METRICS_TOKEN is not set"
    scheme, _, sent = authorization.partition(" ")
    if scheme.lower() != "bearer" or not sent.strip():
        return "missing bearer token (Authorization: Bearer <METRICS_TOKEN>)"
    if not hmac.compare_digest(sent.strip().encode(), token.encode()):
        return "wrong metrics token"
    return None


def queue_depths(client, queues: tuple[str, ...] = QUEUES) -> dict[str, int]:
    """Messages waiting in each queue: kombu keeps one Redis list per queue and priority step."""
    steps = Channel.priority_steps
    pipe = client.pipeline(transaction=False)
    for queue in queues:
        for step in steps:
            pipe.llen(f"{queue}{Channel.sep}{step}" if step else queue)
    sizes = iter(pipe.execute())
    return {queue: sum(next(sizes) for _ in steps) for queue in queues}


class _Figures:
    """A collector reading every figure at scrape time; a dependency that fails is reported down."""

    def collect(self):
        families, up = [], GaugeMetricFamily("dcoe_dependency_up", "1 when the figures read from the dependency "
                                             "could be collected at this scrape", labels=["dependency"])
        for dependency, read in (("postgresql", _job_families), ("redis", _redis_families)):
            try:
                families.extend(read())
                up.add_metric([dependency], 1)
            except Exception as exc:  # noqa: BLE001 - the other figures are still worth a scrape
                log.warning("metrics: %s could not be read (%s)", dependency, type(exc).__name__)
                up.add_metric([dependency], 0)
        return [*families, up]


def _job_families() -> list:
    with unit_of_work() as uow:
        figures = job_figures(uow.connection, JOB_BUCKETS)
    jobs = GaugeMetricFamily("dcoe_jobs", "Jobs in the jobs table by type and state", labels=["type", "state"])
    for job_type in JobType:
        for state in JobState:
            jobs.add_metric([job_type.value, state.value], figures.jobs.get((job_type.value, state.value), 0))
    durations = HistogramMetricFamily("dcoe_job_duration_seconds", "Run time of finished jobs, from start to "
                                      "finish", labels=["type", "state"])
    for (job_type, state), run in sorted(figures.durations.items()):
        buckets = [(floatToGoString(b), n) for b, n in zip(JOB_BUCKETS, run.buckets)] + [("+Inf", run.count)]
        durations.add_metric([job_type, state], buckets, run.seconds)
    return [
        jobs, durations,
        CounterMetricFamily("dcoe_ingest_rows", "Rows loaded (inserted or refreshed) by succeeded ingest jobs",
                            value=figures.rows_loaded),
        CounterMetricFamily("dcoe_ingest_rejected_rows", "Rows rejected by succeeded ingest jobs",
                            value=figures.rows_rejected),
    ]


def _redis_families() -> list:
    client = redis_client()
    depth = GaugeMetricFamily("dcoe_queue_depth", "Messages waiting in a Celery queue", labels=["queue"])
    for queue, waiting in queue_depths(client).items():
        depth.add_metric([queue], waiting)
    return [depth, _http_histogram(client.hgetall(_HTTP_KEY))]


def _http_histogram(fields: dict[bytes, bytes]) -> HistogramMetricFamily:
    """The Redis hash as a histogram: its fields hold per-bucket counts, made cumulative here."""
    counts: dict[tuple, dict[str, int]] = defaultdict(dict)
    sums: dict[tuple, float] = defaultdict(float)
    for field, value in fields.items():
        method, route, status, part = field.decode().split("|")
        if part == "sum":
            sums[(method, route, status)] = float(value)
        else:
            counts[(method, route, status)][part] = int(value)
    family = HistogramMetricFamily("dcoe_http_request_duration_seconds", "Time to answer an HTTP request, by "
                                   "route (the URL rule, not the path), method and status",
                                   labels=["route", "method", "status"])
    for (method, route, status), by_bound in sorted(counts.items()):
        total, buckets = 0, []
        for bound in [*map(floatToGoString, HTTP_BUCKETS), "+Inf"]:
            total += by_bound.get(bound, 0)
            buckets.append((bound, total))
        family.add_metric([route, method, status], buckets, sums[(method, route, status)])
    return family


class _HttpRecorder:
    """Adds each request's duration to the shared histogram in Redis; never fails a request."""

    def __init__(self):
        self.paused_until = 0.0

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        if time.monotonic() < self.paused_until:
            return
        bound = next((floatToGoString(b) for b in HTTP_BUCKETS if seconds <= b), "+Inf")
        series = f"{method}|{route}|{status}"
        try:
            pipe = redis_client().pipeline(transaction=False)
            pipe.hincrby(_HTTP_KEY, f"{series}|{bound}", 1)
            pipe.hincrbyfloat(_HTTP_KEY, f"{series}|sum", seconds)
            pipe.execute()
        except Exception:  # noqa: BLE001 - metrics must not cost the caller its answer
            self.paused_until = time.monotonic() + _PAUSE_SECONDS
            log.warning("metrics: Redis unavailable; HTTP latency not recorded for %.0f s", _PAUSE_SECONDS)


def init_app(app: Flask) -> None:
    """Serve /metrics and time every request."""
    recorder = _HttpRecorder()
    app.register_blueprint(blp)

    @app.before_request
    def _start_clock() -> None:
        g.dcoe_metrics_started = time.perf_counter()

    @app.after_request
    def _observe(response):
        started = g.pop("dcoe_metrics_started", None)
        if started is not None:
            route = request.url_rule.rule if request.url_rule else "<unmatched>"
            recorder.observe(request.method, route, response.status_code, time.perf_counter() - started)
        return response
