from django.db import models
from django.utils import timezone

from sportello.kb.models import ArticleTranslation
from sportello.tickets.models import Ticket


class TicketVector(models.Model):
    """A ticket's sentence vector (encoder.py: int8, unit length times 127), of the text that
    services.ticket_text builds; `digest` tells whether that text changed since."""

    ticket = models.OneToOneField(Ticket, primary_key=True, on_delete=models.CASCADE, related_name="+")
    model = models.CharField(max_length=40)
    digest = models.CharField(max_length=32)
    vector = models.BinaryField()
    updated_at = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self) -> str:
        return f"vector of ticket {self.ticket_id}"


class ArticleVector(models.Model):
    """A knowledge-base translation's sentence vector, with its language to search one language's."""

    translation = models.OneToOneField(ArticleTranslation, primary_key=True, on_delete=models.CASCADE, related_name="+")
    language = models.CharField(max_length=10, db_index=True)
    model = models.CharField(max_length=40)
    digest = models.CharField(max_length=32)
    vector = models.BinaryField()
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"vector of article translation {self.translation_id}"
