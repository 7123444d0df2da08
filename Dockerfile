# Huitou: API, scheduler and dispatcher in one process. Migrations run on start.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN useradd --create-home --uid 10001 huitou
WORKDIR /app
COPY pyproject.toml README.md ./
COPY service ./service
COPY bench ./bench
COPY migrations ./migrations
COPY rule_templates ./rule_templates
COPY message_templates ./message_templates
RUN pip install -e . && mkdir -p /data && chown huitou:huitou /data

USER huitou
ENV HUITOU_DATABASE_URL=sqlite+aiosqlite:////data/huitou.db
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=4).status == 200 else 1)"
# `huitou serve` applies migrations, then starts the API and the scheduler.
CMD ["huitou", "serve", "--host", "0.0.0.0", "--port", "8000"]
