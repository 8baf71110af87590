from django.contrib.postgres.search import SearchVectorField
from django.db import models

from sportello.tickets.models import Ticket


class TicketDocument(models.Model):
    """The searchable text of one ticket (PostgreSQL backend; SQLite keeps it in FTS5)."""

    ticket = models.OneToOneField(Ticket, primary_key=True, on_delete=models.CASCADE, related_name="+")
    body = models.TextField()
    vector = SearchVectorField(null=True)

    def __str__(self) -> str:
        return f"document of ticket {self.ticket_id}"
