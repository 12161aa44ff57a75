"""Ingestion: the worker's half of an upload."""
from celery import shared_task

from domain.ingestion import ingest_upload
from worker.harness import execute


@shared_task(name="ingest.run", bind=True)
def run(self, job_id: str) -> str:
    """Validate and load the stored upload of an ingest job."""
    return execute(self, job_id, ingest_upload)
