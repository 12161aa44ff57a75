"""Payments: the worker's half of the bank's payments file."""
from functools import partial

from celery import shared_task

from dcoe import servers
from domain.payment_files import apply_payments_file
from worker.harness import execute


@shared_task(name="payments.run", bind=True)
def run(self, job_id: str) -> str:
    """Check, record and apply the stored payments file of a payments job."""
    kept_percent = servers.settings().promise_terms.kept_percent  # PROMISE_KEPT_PERCENT
    return execute(self, job_id, partial(apply_payments_file, kept_percent=kept_percent))
