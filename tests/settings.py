"""Settings for the test suite: the production settings with tasks run at once and fast hashing."""

import atexit
import os
import shutil
import tempfile

from sportello.settings import *  # noqa: F403

TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
MEDIA_ROOT = tempfile.mkdtemp(prefix="sportello-test-media-")
STATIC_ROOT = tempfile.mkdtemp(prefix="sportello-test-static-")
# Each test process makes its own; gone when it ends (hundreds piled up in /tmp otherwise).
atexit.register(shutil.rmtree, MEDIA_ROOT, ignore_errors=True)
atexit.register(shutil.rmtree, STATIC_ROOT, ignore_errors=True)
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}  # noqa: F405
WEBFORM_RATE_LIMIT = 5
WEBFORM_MIN_FILL_SECONDS = 0  # browsers driven by Playwright fill forms faster than people; tests/webform sets 2

# SQLite: a test database in a file of its own per run (pytest-django adds each worker's suffix), not
# Django's shared-cache in-memory default. Consumers and live-server threads use their own
# connections; in shared-cache memory a read in one thread makes another's write fail at once with
# "database table is locked", while a file in WAL mode lets readers and a writer work together and
# queues writers (busy timeout), as `make run`'s database does.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3" and not DATABASES["default"]["TEST"].get("NAME"):  # noqa: F405
    _run = f"sportello-test-{os.getpid()}-{os.urandom(3).hex()}.sqlite3"
    DATABASES["default"]["TEST"]["NAME"] = os.path.join(tempfile.gettempdir(), _run)  # noqa: F405

# Several checkouts or people testing against one PostgreSQL server keep apart by test database name.
if _test_db_name := os.environ.get("SPORTELLO_TEST_DB_NAME"):
    DATABASES["default"]["TEST"] = {**DATABASES["default"].get("TEST", {}), "NAME": _test_db_name}  # noqa: F405
