"""Every PostgreSQL advisory lock the system takes: one home for their ids.

Ids are (class, key) pairs, or one bigint for the migrations; the classes are numbered from
7265001 so they stay clear of other applications sharing the database.
"""
from __future__ import annotations

# Several processes may start at once (web replicas, standalone): one of them migrates.
MIGRATIONS = 7265001
# A worker is executing this job (session lock; the key is derived from the job's id).
JOB_CLASS = 7265002
# An ingest job is writing cases (transaction lock, key 0): writers take turns.
INGEST_WRITERS = (7265003, 0)
# An assignment run is dealing cases (transaction lock): one run at a time.
ASSIGNMENT_RUN = (7265004, 1)
# Held while deciding whether an analytics refresh job is needed (transaction lock).
ANALYTICS_REFRESH_REQUESTS = (7265005, 1)
