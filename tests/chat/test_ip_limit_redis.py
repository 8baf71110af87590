"""The per-address socket limit counted in the production cache: the real Redis on 127.0.0.1:6379,
where several web processes share the counts."""

from __future__ import annotations

import pytest

from tests.chat import test_ip_limit
from tests.conftest import service_or_skip, tcp_open

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def redis_cache(settings):
    service_or_skip("Redis on 127.0.0.1:6379", tcp_open("127.0.0.1", 6379))
    # Database 9 and fresh addresses per test (test_ip_limit.an_address): other runs may share this Redis.
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:6379/9"}
    }
    from django.core.cache import caches

    assert type(caches["default"]).__name__ == "RedisCache"


def test_extra_sockets_are_refused_with_counts_in_redis(redis_cache, chat_channel, settings):
    test_ip_limit.test_extra_sockets_from_one_address_are_closed_with_4429_and_a_closed_one_frees_its_place(
        chat_channel, settings
    )


def test_counts_of_a_dead_process_expire_in_redis(redis_cache, settings):
    test_ip_limit.test_counts_of_a_process_that_died_stop_counting_after_two_periods(settings)


def test_an_open_socket_keeps_its_place_across_periods_in_redis(redis_cache, settings):
    test_ip_limit.test_an_open_socket_that_recounts_keeps_its_place_across_periods(settings)
