# The auction server image.
#
#   docker build -t auction-server .                 # production: `python -m server serve`
#   docker build --target dev -t auction-server-dev .  # adds localstripe, the Stripe stand-in
#
# The project and its dependencies are installed from uv.lock (the pins CI tests)
# into /opt/venv, the project as a wheel, not editable: the image carries no source
# tree. Migrations and the demo page's Socket.IO client are package data.
ARG PYTHON_IMAGE=python:3.12-slim

FROM ${PYTHON_IMAGE} AS build
ENV PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    UV_PROJECT_ENVIRONMENT=/opt/venv \
    UV_PYTHON_DOWNLOADS=never \
    UV_LINK_MODE=copy \
    UV_NO_CACHE=1
RUN pip install "uv>=0.8,<1"
WORKDIR /src
# Dependencies first, in their own layer: it changes only when the lock does.
COPY pyproject.toml uv.lock README.md LICENSE ./
RUN uv sync --frozen --no-dev --extra redis --no-install-project
COPY server ./server
RUN uv sync --frozen --no-dev --extra redis --no-editable


# Development only: the same plus localstripe (the `standin` group of uv.lock).
FROM build AS build-dev
RUN uv sync --frozen --no-dev --extra redis --group standin --no-editable


FROM ${PYTHON_IMAGE} AS base
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH
RUN useradd --system --uid 10001 --user-group --home-dir /app --shell /usr/sbin/nologin app \
    && mkdir -p /app/var/media && chown -R 10001:10001 /app/var
WORKDIR /app
COPY --from=build /opt/venv /opt/venv

ENV HOST=0.0.0.0 \
    PORT=8080 \
    DATA_DIR=/app/var
EXPOSE 8080
USER 10001:10001
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('PORT', '8080') + '/healthz', timeout=2)"]
CMD ["python", "-m", "server", "serve"]


FROM base AS dev
COPY --from=build-dev /opt/venv /opt/venv
EXPOSE 8420
HEALTHCHECK --interval=5s --timeout=3s --start-period=10s --retries=5 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8420/js.stripe.com/v3/', timeout=2)"]
CMD ["python", "-m", "server.devtools.stripe_standin", "--host", "0.0.0.0", "--port", "8420"]


# The default target: production.
FROM base AS runtime
