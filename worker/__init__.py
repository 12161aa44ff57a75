"""The Celery side: one app (worker.celery_app), thin tasks, the beat schedule."""
