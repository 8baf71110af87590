from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "sportello.core"
    label = "core"

    def ready(self) -> None:
        from sportello.accounts import token_cache
        from sportello.core import lookups, outbox, scheduler

        # Per-process caches, forgotten on every save or delete of what they hold.
        lookups.connect()  # statuses, organizations' domains, tags
        token_cache.connect()  # API tokens' users

        # Side effects whose task was lost, retries, and rows left by a worker that died (outbox.py).
        scheduler.every(60, "core.outbox", outbox.sweep)
