# Kassa's production image: `kassa webhook` by default; any other command by argument
# (`docker run IMAGE db upgrade`, `IMAGE run`, `IMAGE keygen`, `IMAGE import-gtfs PATH`).
# Every setting comes from KASSA_* environment variables (see .env.example and the README).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

# The fonts embedded in ticket PDFs (booking/tickets/fonts.py; the Makefile's FONT_PACKAGES).
RUN apt-get update \
    && apt-get install -y --no-install-recommends fonts-dejavu-core fonts-wqy-microhei \
    && rm -rf /var/lib/apt/lists/*

# The project only (no dev extra); every dependency ships a binary wheel for this Python,
# so no compiler is needed. The sources are removed once installed.
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY handlers ./handlers
COPY booking ./booking
COPY storage ./storage
COPY locales ./locales
RUN pip install . && rm -rf /src

# A user of its own, with a home for matplotlib's cache (the /stats chart).
RUN useradd --create-home --home-dir /home/kassa --uid 10001 --user-group kassa
USER kassa
WORKDIR /home/kassa

# In a container the web server must listen beyond loopback (the code's default is
# 127.0.0.1); the port stays the code's default, 8080.
ENV KASSA_HTTP_HOST=0.0.0.0
EXPOSE 8080

# /healthz answers 200 while the web server runs (`kassa run` and `kassa webhook`).
# `kassa booking-api` has no /healthz: disable or replace this check for it.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('KASSA_HTTP_PORT', '8080'), timeout=4)"]

ENTRYPOINT ["kassa"]
CMD ["webhook"]
