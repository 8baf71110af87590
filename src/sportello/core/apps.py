from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "sportello.core"
    label = "core"

    def ready(self) -> None:
        from sportello.core import outbox, scheduler

        # Side effects whose task was lost, retries, and rows left by a worker that died (outbox.py).
        scheduler.every(60, "core.outbox", outbox.sweep)
