"""Exit 0 when a service answers: `reachable.py postgres URL`, `reachable.py redis URL` or
`reachable.py mysql URL` (MariaDB or MySQL, for the osTicket importer's tests)."""

import socket
import sys
from urllib.parse import urlparse

kind, url = sys.argv[1], sys.argv[2]
parsed = urlparse(url)
port = parsed.port or {"postgres": 5432, "redis": 6379, "mysql": 3306}[kind]
try:
    with socket.create_connection((parsed.hostname or "127.0.0.1", port), timeout=2):
        pass
except OSError:
    sys.exit(1)
if kind == "postgres":
    import psycopg

    try:
        psycopg.connect(url.replace("/" + parsed.path.lstrip("/"), "/postgres"), connect_timeout=3).close()
    except Exception as exc:
        print(f"PostgreSQL at {url} refused: {exc}", file=sys.stderr)
        sys.exit(1)
sys.exit(0)
