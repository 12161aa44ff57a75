# One image for every process of the engine: API, workers, beat, Flower and the migrations.
# docker-compose.yml picks the process with its `command`; the default is the API.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml ./
COPY dcoe ./dcoe
COPY client ./client
COPY domain ./domain
COPY store ./store
COPY web ./web
COPY worker ./worker
COPY migrations ./migrations
RUN pip install . \
    && useradd --system --uid 10001 --home-dir /app dcoe \
    && mkdir -p /app/var \
    && chown dcoe /app/var

USER dcoe
# Celery beat keeps its schedule file here; the data itself lives in PostgreSQL and Redis.
ENV DCOE_HOME=/app/var
EXPOSE 5000 5555
CMD ["dcoe", "web"]
