# The auction server image.
#
#   docker build -t auction-server .                 # production: `python -m server serve`
#   docker build --target dev -t auction-server-dev .  # adds localstripe, the Stripe stand-in
#
# The migrations ship inside the package (server/migrations).
ARG PYTHON_IMAGE=python:3.12-slim

FROM ${PYTHON_IMAGE} AS base
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH
RUN python -m venv /opt/venv \
    && useradd --system --uid 10001 --user-group --home-dir /app --shell /usr/sbin/nologin app
WORKDIR /app

# Dependencies first, in their own layer: it changes only when pyproject.toml does.
COPY pyproject.toml README.md ./
RUN mkdir server && touch server/__init__.py && pip install -e . && rm -r server

COPY server ./server
RUN mkdir -p /app/var && chown 10001:10001 /app/var

ENV HOST=0.0.0.0 \
    PORT=8080 \
    DATA_DIR=/app/var
EXPOSE 8080
USER 10001:10001
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('PORT', '8080') + '/healthz', timeout=2)"]
CMD ["python", "-m", "server", "serve"]


# Development only: the same image plus localstripe, for `docker compose --profile dev`.
FROM base AS dev
USER 0
RUN pip install "localstripe>=1.15,<2"
USER 10001:10001
EXPOSE 8420
HEALTHCHECK --interval=5s --timeout=3s --start-period=10s --retries=5 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8420/js.stripe.com/v3/', timeout=2)"]
CMD ["python", "-m", "server.devtools.stripe_standin", "--host", "0.0.0.0", "--port", "8420"]


# The demo page's Socket.IO client, installed from package-lock.json; Node.js stays out of the image.
FROM node:20-slim AS web
WORKDIR /web
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund


# The default target: production.
FROM base AS runtime
COPY --from=web /web/node_modules/socket.io-client/dist ./node_modules/socket.io-client/dist
