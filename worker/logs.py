"""Task logs: Celery's own handlers write as dcoe/logs.py formats, and a job's task logs its job id."""
from __future__ import annotations

import logging

from celery.signals import after_setup_logger, after_setup_task_logger, task_postrun, task_prerun

from dcoe.logs import bind, clear, formatter, install_context
from dcoe.queue import TASK_FOR_JOB


def init_worker(log_format: str = "auto") -> None:
    """Logs for Celery workers and beat in LOG_FORMAT; a job's task logs with the job's id."""
    job_tasks = frozenset(name for name, _queue in TASK_FOR_JOB.values())  # their first argument is the job id
    install_context()

    def use_format(logger: logging.Logger | None = None, **_) -> None:
        format_handlers(logger, log_format)

    def start_task(task_id=None, task=None, args=None, **_) -> None:
        clear()
        fields = {"task": task.name, "task_id": task_id}
        if task.name in job_tasks and args:
            fields["job_id"] = str(args[0])
        bind(**fields)

    after_setup_logger.connect(use_format, weak=False)
    after_setup_task_logger.connect(use_format, weak=False)
    task_prerun.connect(start_task, weak=False)
    task_postrun.connect(lambda **_: clear(), weak=False)


def format_handlers(logger: logging.Logger, log_format: str) -> None:
    """Give the handlers Celery set up on `logger` the LOG_FORMAT formatter, each for its own stream."""
    for handler in logger.handlers:
        # Celery writes to sys.__stderr__ (or --logfile): `auto` asks that stream, not sys.stderr,
        # which Celery soon redirects into the logger itself
        handler.setFormatter(formatter(log_format, getattr(handler, "stream", None)))
