"""gunicorn settings for the web processes: /etc/grants/gunicorn.conf.py.

Started by grants-web.service: gunicorn --config /etc/grants/gunicorn.conf.py wsgi:app
"""

import multiprocessing

# nginx on the same machine forwards here; nothing else should reach it.
bind = "127.0.0.1:8000"

# Synchronous workers, one request each; nginx buffers slow uploads in front.
workers = multiprocessing.cpu_count() * 2 + 1
worker_class = "sync"

# Receipts, letters, contracts and the programme report are rendered as PDFs in
# the request: leave them time. nginx's proxy_read_timeout matches.
timeout = 120
# On stop or reload, running requests get this long to finish.
graceful_timeout = 30
keepalive = 5

# Replace each worker after a while (with jitter, so not all at once).
max_requests = 2000
max_requests_jitter = 200

# Logs to standard error: the journal under systemd. The client's address is the
# X-Forwarded-For nginx adds (gunicorn itself only sees nginx).
accesslog = "-"
errorlog = "-"
loglevel = "info"
access_log_format = '%({x-forwarded-for}i)s "%(r)s" %(s)s %(b)s %(L)ss'
proc_name = "grants-web"
