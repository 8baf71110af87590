"""Errors the services raise; the API and the views turn each into one HTTP status."""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    status = 400

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class InvalidInput(ServiceError):
    status = 422


class NotFound(ServiceError):
    status = 404


class Forbidden(ServiceError):
    status = 403


class TooLarge(ServiceError):
    status = 413


class Conflict(ServiceError):
    """A write against a stale version; `details["changes"]` says what changed meanwhile."""

    status = 409


class RateLimited(ServiceError):
    """Too many requests from one address or client; `details["retry_after"]` is in seconds."""

    status = 429
