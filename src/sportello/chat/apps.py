from django.apps import AppConfig


class ChatConfig(AppConfig):
    name = "sportello.chat"
    label = "chat"

    def ready(self) -> None:
        from sportello.chat import live
        from sportello.core import events

        # Realtime pushes follow the domain events, after commit: chat lines to visitors, changes to
        # agents' screens. They go first: a chat line should not wait for SLA clocks and triggers.
        events.subscribe(events.ENTRY_ADDED, live.on_entry_added, first=True)
        events.subscribe(events.TICKET_CREATED, live.on_ticket_changed, first=True)
        events.subscribe(events.TICKET_UPDATED, live.on_ticket_changed, first=True)
