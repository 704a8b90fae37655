# The portal's image: web, worker and beat all run from it (see docker-compose.yml).
FROM python:3.11-slim-bookworm AS base
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 HF_HUB_OFFLINE=1
RUN apt-get update && apt-get install -y --no-install-recommends nodejs npm \
    libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fontconfig fonts-dejavu-core && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml ./
RUN python -m venv /app/.venv && /app/.venv/bin/pip install --upgrade pip && /app/.venv/bin/pip install . && rm -rf build *.egg-info
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --omit=dev
COPY . .
RUN useradd --system --uid 10001 portal && mkdir -p /app/media /app/staticfiles && chown -R portal /app/media /app/staticfiles
# collectstatic needs settings but no services: give it throwaway values for this build step only.
RUN DEBUG=1 DATABASE_URL=postgresql://build@localhost/build REDIS_URL=redis://localhost:6379/0 \
    /app/.venv/bin/python manage.py collectstatic --noinput --verbosity 0
USER portal
ENV PATH="/app/.venv/bin:$PATH"
EXPOSE 8000
CMD ["gunicorn", "portal.wsgi", "--config", "portal/gunicorn.conf.py", "--bind", "0.0.0.0:8000"]
