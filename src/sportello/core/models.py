from django.db import models


class Counter(models.Model):
    """A named, gap-free sequence (ticket reference numbers).

    Incremented with one conditional UPDATE inside the caller's transaction, so two concurrent
    intakes can never get the same number, on SQLite or PostgreSQL.
    """

    name = models.CharField(max_length=50, primary_key=True)
    value = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name}={self.value}"


class PeriodicRun(models.Model):
    """When each periodic job last ran and when it is due; claimed with a conditional UPDATE.

    Several schedulers may run (one per worker machine): the one whose UPDATE moves `due_at`
    forward wins the run, the others see zero rows updated and skip it.
    """

    name = models.CharField(max_length=100, primary_key=True)
    due_at = models.DateTimeField()
    last_started_at = models.DateTimeField(null=True, blank=True)
    last_holder = models.CharField(max_length=100, blank=True)
    last_error = models.TextField(blank=True)

    def __str__(self) -> str:
        return self.name
