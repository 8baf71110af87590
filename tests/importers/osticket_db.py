"""A fresh osTicket database on the machine's MariaDB: osTicket's schema (the tables the importer
reads, tests/fixtures/importers/osticket/schema.sql) and sample rows (sample.sql).

The server is SPORTELLO_TEST_MARIADB_URL (mysql://root@127.0.0.1:3306/test by default); each test
gets a database of its own, dropped afterwards. Unreachable, the test is skipped, or fails when
SPORTELLO_REQUIRE_SERVICES=1.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "importers" / "osticket"
SERVER = os.environ.get("SPORTELLO_TEST_MARIADB_URL", "mysql://root@127.0.0.1:3306/test")


def statements(path: Path) -> list[str]:
    text = "\n".join(line for line in path.read_text().splitlines() if not line.lstrip().startswith("--"))
    return [s.strip() for s in re.split(r";\s*\n", text) if s.strip()]


@dataclass
class OsticketDb:
    url: str
    args: dict[str, Any]

    def execute(self, sql: str, params: Any = None) -> None:
        import pymysql

        connection = pymysql.connect(**self.args, autocommit=True)
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
        finally:
            connection.close()


def osticket_database() -> Iterator[OsticketDb]:
    import pymysql

    from sportello.importers.sources.osticket import parse_dsn
    from tests.conftest import service_or_skip, tcp_open

    server = parse_dsn(SERVER)
    service_or_skip(f"MariaDB at {server['host']}:{server['port']}", tcp_open(server["host"], server["port"]))
    name = f"sportello_osticket_{uuid.uuid4().hex[:12]}"
    admin = {k: server[k] for k in ("host", "port", "user", "password")}
    connection = pymysql.connect(**admin, autocommit=True)
    try:
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
            cursor.execute(f"USE `{name}`")
            for statement in statements(FIXTURES / "schema.sql") + statements(FIXTURES / "sample.sql"):
                cursor.execute(statement)
        password = f":{server['password']}" if server["password"] else ""
        url = f"mysql://{server['user']}{password}@{server['host']}:{server['port']}/{name}"
        yield OsticketDb(url=url, args={**admin, "database": name})
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
        connection.close()
