import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sportello.settings")
application = get_wsgi_application()

from sportello.core.settle import settle  # noqa: E402 - after Django is set up

settle()  # the start-up objects out of the collector's full passes
