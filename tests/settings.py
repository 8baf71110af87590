"""Settings for the test suite: the production settings with tasks run at once and fast hashing."""

import os
import tempfile

from sportello.settings import *  # noqa: F403

TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
MEDIA_ROOT = tempfile.mkdtemp(prefix="sportello-test-media-")
STATIC_ROOT = tempfile.mkdtemp(prefix="sportello-test-static-")
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}  # noqa: F405
WEBFORM_RATE_LIMIT = 5
WEBFORM_MIN_FILL_SECONDS = 0  # browsers driven by Playwright fill forms faster than people; tests/webform sets 2

# Several checkouts or people testing against one PostgreSQL server keep apart by test database name.
if _test_db_name := os.environ.get("SPORTELLO_TEST_DB_NAME"):
    DATABASES["default"]["TEST"] = {**DATABASES["default"].get("TEST", {}), "NAME": _test_db_name}  # noqa: F405
