"""gunicorn settings for `make serve` (production: CRM_ENV=production, SECRET_KEY,
DATABASE_URL in the environment; `flask --app wsgi check-deploy` runs first).

Every worker reads the same SECRET_KEY from the environment, so a session signed by one
is valid in all. Override with environment variables: BIND, WEB_CONCURRENCY, TIMEOUT.
"""
import os

bind = os.environ.get("BIND", "127.0.0.1:8000")   # behind the HTTPS reverse proxy
# Sync workers: each request holds one worker; two per core is gunicorn's advice, and
# SQLite serialises writers anyway (BEGIN IMMEDIATE, busy timeout: crm/extensions.py).
workers = int(os.environ.get("WEB_CONCURRENCY", "4"))
worker_class = "sync"
# The monthly report of a city's 100,000 projects takes about a minute; a worker
# silent for longer is stuck and is restarted (its transaction rolls back).
timeout = int(os.environ.get("TIMEOUT", "180"))
graceful_timeout = 30
keepalive = 5
# Recycle workers now and then (memory held by one big export is given back).
max_requests = 2000
max_requests_jitter = 200
accesslog = "-"
errorlog = "-"
loglevel = "info"
