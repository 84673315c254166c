# The kit's image: every `aiops` service of docker-compose.yml runs from it (README.md, "The docker-compose stack").
#   kit       the kit installed, run as the non-root user `aiops` (uid 10001)
#   backfill  the same plus promtool, for the one-shot backfill that writes history blocks into Prometheus' volume
# The images are pinned; Prometheus' version is the one docker-compose.yml runs (a test compares them).

FROM prom/prometheus:v2.53.4 AS prometheus

FROM python:3.11.11-slim-bookworm AS kit
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
# The kit's user; its data folder and Prometheus' storage (the backfill writes there) belong to it, so the
# named volumes first mounted on them do too (Prometheus runs as this user; see aiops/_compose.py).
RUN groupadd --system --gid 10001 aiops \
    && useradd --system --uid 10001 --gid aiops --create-home --home-dir /home/aiops aiops \
    && mkdir -p /var/lib/aiops /var/lib/prometheus \
    && chown aiops:aiops /var/lib/aiops /var/lib/prometheus
WORKDIR /opt/aiops
COPY . .
RUN pip install --no-cache-dir . && rm -rf /opt/aiops/build
USER 10001:10001
WORKDIR /home/aiops
EXPOSE 8000 8001 8002 8003 8004
CMD ["aiops", "--help"]

FROM kit AS backfill
COPY --from=prometheus /bin/promtool /usr/local/bin/promtool
