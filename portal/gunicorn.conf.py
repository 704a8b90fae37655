"""gunicorn settings for the web process (used by the Procfile and the Docker image)."""

import os

workers = int(os.environ.get("WEB_WORKERS", "2"))
threads = int(os.environ.get("WEB_THREADS", "4"))
timeout = int(os.environ.get("WEB_TIMEOUT", "60"))
# Idle keep-alive connections are kept longer than a client's poll interval (the run page and API clients poll every
# 2 s): with gunicorn's 2 s default a poll raced the server's close and got "connection reset" (`make load`).
keepalive = int(os.environ.get("WEB_KEEPALIVE", "5"))
graceful_timeout = 20
accesslog = "-"
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
