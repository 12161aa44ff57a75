"""Contacts: the worker's half of a dialer's log."""
from celery import shared_task

from domain.dialer_logs import record_dialer_log
from worker.harness import execute


@shared_task(name="contacts.run", bind=True)
def run(self, job_id: str) -> str:
    """Check the stored dialer's log of a contacts job and record its contacts with their violations."""
    return execute(self, job_id, record_dialer_log)
