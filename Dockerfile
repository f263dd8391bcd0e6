# The bot in one container: long polling (or the Telegram webhook) and the portal event endpoint
# on port 8080, state in the /app/data volume. Build: docker build -t leads-bot .
# Run: docker compose up -d (see compose.yaml and docs/operations.md).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PATH=/opt/venv/bin:$PATH

RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin leadsbot \
    && python -m venv /opt/venv

WORKDIR /app

# Dependencies first (a layer that changes only with the lock), pinned and hash-checked:
# the same commands as `make run` (tests/unit/test_packaging.py keeps them the same).
COPY requirements.lock ./
RUN python -m pip install --require-hashes -r requirements.lock
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY dialogs ./dialogs
RUN python -m pip install --no-deps -e .

# The database folder is private to the bot's user (the file inside is created 0600).
RUN install -d -m 700 -o leadsbot -g leadsbot /app/data
VOLUME ["/app/data"]

USER leadsbot
# Inside a container the server must listen on every interface to be reachable at all;
# publish the port only to the reverse proxy (compose.yaml binds it to 127.0.0.1).
ENV WEB__HOST=0.0.0.0 \
    WEB__PORT=8080 \
    STORAGE__PATH=/app/data/bot.sqlite3
EXPOSE 8080

# Liveness, with Python's urllib (the slim image has no curl). /readyz is for monitoring and
# load balancers: a portal outage must not make an orchestrator restart a healthy process.
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=8)"]

CMD ["python", "-m", "bot"]
