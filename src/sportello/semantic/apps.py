from django.apps import AppConfig


class SemanticConfig(AppConfig):
    name = "sportello.semantic"
    label = "semantic"
    verbose_name = "Semantic search"

    def ready(self) -> None:
        from sportello.core import events, scheduler
        from sportello.semantic import services

        # A new ticket, a changed subject, its first message: the ticket's vector may change
        # (services.ticket_text), and the task skips the tickets whose text did not.
        for name in (events.TICKET_CREATED, events.TICKET_UPDATED, events.ENTRY_ADDED):
            events.subscribe(name, services.on_ticket_event)
        # Knowledge-base translations publish no events: a sweep embeds the ones changed since.
        scheduler.every(300, "semantic.articles", services.sweep_articles)
