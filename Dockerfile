# syntax=docker/dockerfile:1
# kurilwatch: a slim runtime image that runs as a non-root user (uid 10001).
#   docker build -t kurilwatch .
#   docker run --rm -e KURILWATCH_DATABASE_URL=postgresql://… \
#     -v "$PWD/kurilwatch.yaml:/etc/kurilwatch/kurilwatch.yaml:ro" kurilwatch
# Needs BuildKit (the default builder of current Docker) for RUN --mount.

# --- build: kurilwatch and every dependency as wheels; build tools stay in this stage ---
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
# A compiler only for a dependency without a binary wheel for the target platform.
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# The project metadata (README.md is its readme) and the packages pyproject.toml lists.
COPY pyproject.toml README.md ./
COPY kurilwatch ./kurilwatch
COPY storage ./storage
COPY crawler ./crawler
COPY alerts ./alerts
COPY scheduler ./scheduler
COPY web ./web
RUN pip wheel --wheel-dir /wheels .

# --- runtime: only the wheels are installed, from the build stage, without an index ---
FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    KURILWATCH_CONFIG=/etc/kurilwatch/kurilwatch.yaml \
    KURILWATCH_LISTEN=0.0.0.0:9464
RUN groupadd --system --gid 10001 kurilwatch \
    && useradd --system --uid 10001 --gid 10001 --create-home --home-dir /home/kurilwatch \
        --shell /usr/sbin/nologin kurilwatch
# The wheels are bind-mounted, not copied, so they add no layer to the image.
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-index --find-links=/wheels kurilwatch
USER 10001:10001
WORKDIR /home/kurilwatch
EXPOSE 9464
STOPSIGNAL SIGTERM
# The same check as docker-compose.yml's: GET /healthz with Python's standard library.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request as r; port = os.environ.get('KURILWATCH_LISTEN', '127.0.0.1:9464').rpartition(':')[2]; sys.exit(0 if r.build_opener(r.ProxyHandler({})).open('http://127.0.0.1:' + port + '/healthz', timeout=4).status == 200 else 1)"]
ENTRYPOINT ["kurilwatch"]
CMD ["--log-format", "json", "run"]
