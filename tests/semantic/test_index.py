"""Past SEMANTIC_ANN_THRESHOLD ticket vectors, lookups go through an approximate index (usearch)
whose candidates are re-ranked by the exact cosine: the same answers as brute force, kept up to
date by the same refresh as the process's copy, and brute force again where the index is missing
or fails."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from datetime import timedelta

import numpy as np
import pytest
from django.utils import timezone

from sportello.semantic import encoder, services
from sportello.semantic.models import TicketVector
from sportello.tickets.models import Ticket
from tests.web.conftest import new_ticket

pytestmark = pytest.mark.django_db

SIZE = 120


def unit(rng: np.random.Generator, n: int) -> np.ndarray:
    v = rng.standard_normal((n, encoder.DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def store(tickets: list[Ticket], vectors: np.ndarray, *, ago: int = 3600) -> None:
    """Vectors written as the embedding task writes them, stamped `ago` seconds back."""
    at = timezone.now() - timedelta(seconds=ago)
    TicketVector.objects.bulk_create(
        [
            TicketVector(ticket=t, model=encoder.MODEL, digest="", vector=encoder.pack(v), updated_at=at)
            for t, v in zip(tickets, vectors, strict=True)
        ],
        update_conflicts=True,
        unique_fields=["ticket"],
        update_fields=["vector", "updated_at"],
    )


@pytest.fixture
def seeded(db) -> dict[str, object]:
    """SIZE tickets, each with a seeded vector: clusters of ten around thirty centres, so that the
    nearest of a query are a few close vectors among many far ones, as with real tickets."""
    rng = np.random.default_rng(17)
    centres = unit(rng, SIZE // 10)
    vectors = centres.repeat(10, axis=0) + unit(rng, SIZE) * 0.6
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    tickets = [new_ticket(f"Seeded {i}", "A ticket with a seeded vector.", email=f"s{i}@x.org") for i in range(SIZE)]
    store(tickets, vectors)
    return {"tickets": tickets, "vectors": vectors, "queries": centres + unit(rng, len(centres)) * 0.3}


def brute_force(vector: np.ndarray, limit: int) -> list[tuple[int, float]]:
    rows = TicketVector.objects.values_list("ticket_id", "vector")
    scored = [(pk, float(encoder.unpack(data) @ vector)) for pk, data in rows]
    return sorted(scored, key=lambda row: (-row[1], row[0]))[:limit]


def nearest(vector: np.ndarray, limit: int = 10) -> list[tuple[int, float]]:
    return services.nearest_tickets(vector, limit=limit)


def indexed() -> object:
    """Wait for the background build of the index to finish (it runs in a thread of its own)."""
    services.nearest_tickets(np.ones(encoder.DIM, dtype=np.float32), limit=1)  # the refresh starts it
    while building := [t for t in threading.enumerate() if t.name == "sportello-vector-index"]:
        for thread in building:
            thread.join()
    return services._tickets.index


@pytest.fixture
def low_threshold(settings) -> Iterator[None]:  # type: ignore[no-untyped-def]
    settings.SEMANTIC_ANN_THRESHOLD = SIZE // 2
    yield


def same(found: list[tuple[int, float]], expected: list[tuple[int, float]]) -> None:
    assert [pk for pk, _s in found] == [pk for pk, _s in expected]
    assert np.allclose([s for _pk, s in found], [s for _pk, s in expected], atol=1e-5)


def test_below_the_threshold_lookups_are_brute_force(seeded, settings):
    settings.SEMANTIC_ANN_THRESHOLD = SIZE + 1
    assert indexed() is None
    for query in seeded["queries"][:5]:
        same(nearest(query), brute_force(query, 10))


def test_above_it_the_index_answers_as_brute_force_does(seeded, low_threshold):
    assert indexed() is not None
    for query in seeded["queries"]:
        same(nearest(query), brute_force(query, 10))
    same(nearest(seeded["queries"][0], 3), brute_force(seeded["queries"][0], 3))


def test_a_new_vector_and_a_changed_one_are_found_and_the_old_one_is_not(seeded, low_threshold):
    assert indexed() is not None
    queries = seeded["queries"]
    fresh = new_ticket("Brand new", "Built after the index.", email="new@x.org")
    moved = seeded["tickets"][0]
    store([fresh, moved], np.stack([queries[5], queries[7]]), ago=0)  # a new ticket; one moved to another place
    for query in (queries[5], queries[7], queries[0]):
        same(nearest(query), brute_force(query, 10))
    assert nearest(queries[5], 1)[0][0] == fresh.pk
    assert nearest(queries[7], 1)[0][0] == moved.pk
    assert moved.pk not in [pk for pk, _s in nearest(queries[0], 10)]  # no longer found where it was
    assert services._tickets.index is not None and len(services._tickets.index) == SIZE + 1


def test_vectors_written_while_the_index_is_built_are_in_it(seeded, low_threshold, monkeypatch):
    gate = threading.Event()
    real = services._TicketMatrix._build

    def slow_build(self, *args):  # type: ignore[no-untyped-def]
        gate.wait(60)
        real(self, *args)

    monkeypatch.setattr(services._TicketMatrix, "_build", slow_build)
    query = seeded["queries"][3]
    same(nearest(query), brute_force(query, 10))  # brute force while the index is built
    assert services._tickets.building
    late = new_ticket("Written meanwhile", "Stored while the index was being built.", email="late@x.org")
    store([late], query[None, :], ago=0)
    same(nearest(query), brute_force(query, 10))  # the refresh reads it; brute force finds it
    gate.set()
    assert indexed() is not None
    assert nearest(query, 1)[0][0] == late.pk  # added to the index once it was there
    same(nearest(query), brute_force(query, 10))


def test_a_deleted_ticket_is_not_shown_in_the_panel(agent, seeded, low_threshold):
    from django.urls import reverse

    from tests.conftest import client_for

    assert encoder.available() and indexed() is not None  # the panel shows full text while the encoder loads
    first, gone = seeded["tickets"][0], seeded["tickets"][1]  # the same cluster: each other's nearest
    assert gone.pk in [pk for pk, _s in nearest(seeded["vectors"][0])]
    html = client_for(agent).get(reverse("ticket-similar", args=[first.number])).content.decode()
    assert f'data-similar="{gone.number}"' in html
    Ticket.objects.filter(pk=gone.pk).delete()  # the vector goes with it (the copy keeps it a while)
    html = client_for(agent).get(reverse("ticket-similar", args=[first.number])).content.decode()
    assert f'data-similar="{gone.number}"' not in html and 'data-similar="' in html


def test_without_usearch_lookups_are_brute_force(seeded, low_threshold, monkeypatch):
    monkeypatch.setitem(sys.modules, "usearch.index", None)  # `from usearch.index import Index` fails
    assert indexed() is None
    for query in seeded["queries"][:5]:
        same(nearest(query), brute_force(query, 10))


def test_an_index_that_fails_leaves_brute_force(seeded, low_threshold):
    index = indexed()
    assert index is not None

    class Broken:
        def search(self, *args: object, **kwargs: object) -> object:
            raise RuntimeError("index corrupted")

    services._tickets.index = Broken()
    query = seeded["queries"][2]
    same(nearest(query), brute_force(query, 10))
    assert services._tickets.index is None and services._tickets.failed
    same(nearest(query), brute_force(query, 10))


def test_an_index_that_fails_to_build_leaves_brute_force(seeded, low_threshold, monkeypatch):
    def broken(**kwargs: object) -> object:
        raise MemoryError("no room for the graph")

    monkeypatch.setattr(services, "_index_class", lambda: broken)
    assert indexed() is None and services._tickets.failed
    query = seeded["queries"][4]
    same(nearest(query), brute_force(query, 10))


def test_many_changed_vectors_are_put_in_by_a_thread_brute_force_meanwhile(seeded, low_threshold, monkeypatch):
    assert indexed() is not None
    monkeypatch.setattr(services._TicketMatrix, "INLINE", 2)  # as a `semantic build` of many tickets
    queries = seeded["queries"]
    rebuilt = seeded["tickets"][:5]
    store(rebuilt, queries[6:11], ago=0)
    same(nearest(queries[8]), brute_force(queries[8], 10))  # brute force, or the index caught up
    assert indexed() is not None
    for ticket, query in zip(rebuilt, queries[6:11], strict=True):
        assert nearest(query, 1)[0][0] == ticket.pk
        same(nearest(query), brute_force(query, 10))
