"""What every REST API operation shares: who is calling, and how a refusal looks.

- Authentication: a personal token (`Authorization: Bearer spt_…`), or the browser's session with
  Django's CSRF check on unsafe methods (the docs page and the agent UI's scripts use it).
- Input hygiene: the string and id types of every input schema. Strings may not hold NUL or lone
  surrogates (PostgreSQL and SQLite refuse them), ids fit a 64-bit column, lengths fit the
  columns; so bad input is a 422, never a database error.
- Error bodies: `{"detail": message, …}`; `errors(…)` declares them per operation for OpenAPI.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from django.http import HttpRequest
from django.utils import timezone
from ninja import Schema
from ninja.schema import DjangoGetter
from ninja.security import HttpBearer, SessionAuth
from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    ModelWrapValidatorHandler,
    StringConstraints,
    ValidationInfo,
    WithJsonSchema,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue

from sportello.accounts import token_cache
from sportello.accounts.models import ApiToken, Scope, User
from sportello.core.errors import Forbidden, ServiceError
from sportello.core.jsonbody import NotBoolean

# Writing last_used_at on every request would turn each read into a write; once a minute is enough
# to tell an admin which tokens are alive.
LAST_USED_PRECISION = timedelta(minutes=1)


class TokenExpired(ServiceError):
    status = 401


READING_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class TokenAuth(HttpBearer):
    """A personal token. Its user is remembered per process for a few seconds (token_cache.py):
    a revoked token or a deactivated account is refused at once all the same (a save of the user
    writes a new stamp, so the next request reads the token afresh and finds the account inactive).

    Scopes: `read` for GET/HEAD, `write` for any other method (refused here, 403); `admin` is
    checked where admin powers are: `User.is_admin` is false for a token without it."""

    def __call__(self, request: HttpRequest) -> User | None:
        # HttpBearer's own reads `request.headers`, which builds a dict of every header first.
        scheme, _, token = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
        if scheme.lower() != self.openapi_scheme or not token:
            return None
        return self.authenticate(request, token)

    def authenticate(self, request: HttpRequest, token: str) -> User | None:
        key = token.strip()
        if not key.startswith(ApiToken.PREFIX) or len(key) > 200:
            return None
        hashed = token_cache.key_hash(key)
        known = token_cache.recall(hashed)
        if known is not None:
            user, token_id, last_used_at = known.user, known.token_id, known.last_used_at
            scopes, expires_at = known.scopes, known.expires_at
        else:
            stamp = token_cache.current_stamp()  # before the read: a change meanwhile is not kept
            found = ApiToken.find(key)
            if found is None:
                return None
            user, token_id, last_used_at = found.user, found.pk, found.last_used_at
            scopes, expires_at = frozenset(found.scope_list), found.expires_at
            token_cache.remember(hashed, user, token_id, last_used_at, stamp, scopes=scopes, expires_at=expires_at)
        now = timezone.now()
        if expires_at is not None and expires_at <= now:
            raise TokenExpired(f"This token expired at {expires_at.isoformat()}: create a new one")
        # At most one UPDATE a minute per token (LAST_USED_PRECISION): a write on every request
        # would turn each read into a write and cost the lean create path a statement.
        if last_used_at is None or now - last_used_at >= LAST_USED_PRECISION:
            ApiToken.objects.filter(pk=token_id).update(last_used_at=now)
            token_cache.used(hashed, now)
        needed = Scope.READ if request.method in READING_METHODS else Scope.WRITE
        if needed not in scopes:
            raise Forbidden(
                f"This token lacks the '{needed}' scope needed for {request.method}; "
                f"it has: {', '.join(sorted(scopes)) or 'none'}",
                missing_scope=str(needed),
            )
        user.token_scopes = scopes  # a copy of the remembered user: for this request only
        request.user = user
        return user


def refusal_detail(request: HttpRequest, message: str) -> tuple[str, dict[str, str]]:
    """A 403's detail, naming the missing `admin` scope when an admin's token lacks it (the
    refusal then comes from a service that found `is_admin` false)."""
    user = getattr(request, "auth", None)
    if isinstance(user, User) and user.lacks_admin_scope:
        return f"{message} (this token lacks the 'admin' scope)", {"missing_scope": str(Scope.ADMIN)}
    return message, {}


class BrowserSessionAuth(SessionAuth):
    """The signed-in browser session; unsafe methods must carry the CSRF token (SessionAuth's check)."""

    def authenticate(self, request: HttpRequest, key: str | None) -> User | None:
        user = request.user
        return user if user.is_authenticated else None  # type: ignore[return-value]


def caller(request: HttpRequest) -> User:
    """The user an authenticated request acts as."""
    return request.auth  # type: ignore[attr-defined,no-any-return]


# --- Input types ------------------------------------------------------------------------------------

MAX_DB_INT = 2**63 - 1


def _storable(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text") from None
    return value


class _StorableInDocument:
    """Says in the OpenAPI document what `_storable` refuses: NUL. (Lone surrogates cannot be said
    in a pattern that generators such as schemathesis honour; valid JSON text rarely holds them.)"""

    def __get_pydantic_json_schema__(self, core_schema: Any, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        schema = handler(core_schema)
        schema["pattern"] = r"^[^\x00]*$"
        return schema


def text(max_length: int | None = None, *, min_length: int = 0) -> Any:
    """A string type that the database can store, of at most `max_length` characters."""
    return Annotated[
        str,
        StringConstraints(min_length=min_length or None, max_length=max_length),
        AfterValidator(_storable),
        _StorableInDocument(),
    ]


def _iso_moment(value: Any) -> Any:
    # pydantic would read a number ("-1269") as seconds since 1970; a time is written as a time.
    if isinstance(value, datetime) or (isinstance(value, str) and ISO_MOMENT.match(value)):
        return value
    raise ValueError("a date and time such as 2024-05-31T09:00:00+02:00")


ISO_MOMENT = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}")  # a date, mostly followed by a time


def _storable_moment(value: datetime) -> datetime:
    """A time the database can compare: a real-world UTC offset (±14:00), in UTC, within years 1 to 9999."""
    if value.tzinfo is None:
        return value  # read in the server's time zone, as Django does
    offset = value.utcoffset() or timedelta(0)
    if abs(offset) > timedelta(hours=14):
        raise ValueError("the UTC offset must be between -14:00 and +14:00")
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("the time is out of range") from None


Text = text()
# A point in time from a client (filters such as since/until).
# The document says which offsets are taken (±14:00, as _storable_moment checks).
MOMENT_OFFSET = r"([Zz]|[+-](0[0-9]|1[0-3]):[0-5][0-9]|[+-]14:00)$"
Moment = Annotated[
    datetime,
    BeforeValidator(_iso_moment),
    AfterValidator(_storable_moment),
    WithJsonSchema({"type": "string", "format": "date-time", "pattern": MOMENT_OFFSET}),
]
Id = Annotated[int, Field(ge=1, le=MAX_DB_INT), NotBoolean]
Version = Annotated[int, Field(ge=1, le=2**31 - 1), NotBoolean]


class InputSchema(Schema):
    """An input body: unknown fields are refused (422), so a typo is not silently ignored."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="wrap")
    @classmethod
    def _run_root_validator(cls, values: Any, handler: ModelWrapValidatorHandler[Any], info: ValidationInfo) -> Any:
        """A body is a dict (parsed JSON): validated once, as it is. Ninja's own validator runs a
        schema that forbids extra fields twice, the second time through its getter of model
        attributes and `resolve_` methods (which no input schema has): ~4% of an API create."""
        if type(values) is dict and not cls._ninja_resolvers:
            return handler(values)
        handler(values)
        return handler(DjangoGetter(values, cls, info.context))


# --- Error bodies ----------------------------------------------------------------------------------


class ErrorOut(Schema):
    """Every error: a sentence for people in `detail`, plus fields that depend on the error."""

    model_config = ConfigDict(extra="allow")
    detail: str


class FieldError(Schema):
    loc: list[str | int]
    msg: str
    type: str


class InvalidOut(ErrorOut):
    field: str | None = None
    errors: list[FieldError] = []


class ConflictOut(ErrorOut):
    current_version: int | None = None
    changes: list[dict[str, Any]] = []


ERROR_SCHEMAS: dict[int, type[ErrorOut]] = {409: ConflictOut, 422: InvalidOut}


def errors(*codes: int) -> dict[int, type[ErrorOut]]:
    """The error answers of an operation, for `response={…}`; 401 and 403 are always possible."""
    return {code: ERROR_SCHEMAS.get(code, ErrorOut) for code in sorted({401, 403, *codes})}
