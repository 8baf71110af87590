"""The REST API root: /api/v1/. Routers live in each app's api.py.

Errors are JSON `{"detail": message, …}` with the status the error names: a service's
`ServiceError` carries its own status (and details such as `changes` on a conflict), bad input is
422 with the field errors, a missing object 404, an unauthenticated call 401. Anything else is a bug
and is left to Django's 500 handling (logged, mailed to admins), never dressed up as bad input.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse
from django.http.multipartparser import MultiPartParserError
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.operation import Operation
from ninja.parser import Parser

from sportello.accounts.api import router as accounts_router
from sportello.accounts.auth import BrowserSessionAuth, TokenAuth, refusal_detail
from sportello.audit.api import router as audit_router
from sportello.automation.api import router as automation_router
from sportello.automation.assignment_api import router as assignment_router
from sportello.chat.api import router as chat_router
from sportello.core.errors import ServiceError
from sportello.core.jsonbody import MalformedBody, parse_json_object
from sportello.csat.api import router as csat_router
from sportello.customers.api import router as customers_router
from sportello.fields.api import router as fields_router
from sportello.forum.api import router as forum_router
from sportello.inbox.api import router as inbox_router
from sportello.kb.api import router as kb_router
from sportello.mail.api import router as mail_router
from sportello.notifications.api import router as notifications_router
from sportello.phone.api import router as phone_router
from sportello.reports.api import router as reports_router
from sportello.reports.dashboard_api import router as dashboard_router
from sportello.search.api import router as search_router
from sportello.sla.api import router as sla_router
from sportello.tickets.api import router as tickets_router
from sportello.tickets.snooze_api import router as snooze_router

log = logging.getLogger("sportello.api")


class JsonParser(Parser):
    """Ninja's JSON parser, with one clear message for a body that is not a JSON object or nests too deep."""

    def parse_body(self, request: HttpRequest) -> dict[str, Any]:
        return parse_json_object(request.body)


class SportelloAPI(NinjaAPI):
    def get_openapi_operation_id(self, operation: Operation) -> str:
        # Handler names are the operation ids (`list_tickets`, `update_ticket`); a trailing "_" only
        # keeps a handler from shadowing the service of the same name.
        return operation.view_func.__name__.rstrip("_")

    def get_openapi_schema(self, *, path_prefix: str | None = None, path_params: Any = None) -> Any:
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        components = schema.get("components", {}).get("schemas", {})
        for path_item in schema["paths"].values():
            for operation in path_item.values():
                _document_input_errors(operation, components)
        return schema


def _error_response(description: str, components: dict[str, Any], name: str) -> dict[str, Any]:
    schema = {"$ref": f"#/components/schemas/{name if name in components else 'ErrorOut'}"}
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _document_input_errors(operation: dict[str, Any], components: dict[str, Any]) -> None:
    """Declare the answers that any input can get, whatever the handler declares itself.

    A parameter or a body that does not validate is a 422 (a path id that is not a number too); a
    body past the size limit is a 413; a multipart body that cannot be read is a 400.
    """
    # Ninja keys its responses by number and `openapi_extra` by string: one key per status, or the
    # JSON document holds the same key twice (Swagger UI then refuses to read it).
    responses: dict[str, Any] = {}
    for status, answer in operation.get("responses", {}).items():
        responses.setdefault(str(status), {}).update(answer)
    operation["responses"] = responses
    body = operation.get("requestBody")
    if operation.get("parameters") or body:
        responses.setdefault("422", _error_response("Invalid input", components, "InvalidOut"))
    if body:
        responses.setdefault("413", _error_response("The request body is too large", components, "ErrorOut"))
        if "multipart/form-data" in body.get("content", {}):
            responses.setdefault("400", _error_response("The request could not be read", components, "ErrorOut"))


api = SportelloAPI(
    title="Sportello API",
    version="1",
    description="The help desk's REST API. Authenticate with `Authorization: Bearer <token>`; "
    "agents create tokens on their Tokens page.",
    urls_namespace="api",
    auth=[TokenAuth(), BrowserSessionAuth()],
    parser=JsonParser(),
)

for router in (
    inbox_router,  # before tickets: /tickets/bulk is not a ticket number
    tickets_router,
    snooze_router,
    customers_router,
    accounts_router,
    search_router,
    sla_router,
    automation_router,
    assignment_router,
    csat_router,
    reports_router,
    dashboard_router,
    notifications_router,
    kb_router,
    forum_router,
    chat_router,
    phone_router,
    fields_router,
    audit_router,
):
    api.add_router("", router)
api.add_router("", mail_router)  # authenticated by mailbox tokens, not by agents' tokens


def _error(request: HttpRequest, status: int, detail: str, **extra: Any) -> HttpResponse:
    return api.create_response(request, {"detail": detail, **extra}, status=status)


@api.exception_handler(ServiceError)
def service_error(request: HttpRequest, exc: ServiceError) -> HttpResponse:
    if exc.status == 403:  # an admin's token without the admin scope: say so
        message, extra = refusal_detail(request, exc.message)
        return _error(request, 403, message, **{**extra, **exc.details})
    return _error(request, exc.status, exc.message, **exc.details)


def _field_name(loc: list[str | int]) -> str:
    """`body.data.tags.0` → `tags.0`: where a client put the value, without Ninja's wrapping."""
    parts = loc[2:] if loc[:2] == ["body", "data"] else loc[1:]
    return ".".join(str(part) for part in parts) or str(loc[0] if loc else "request")


@api.exception_handler(ValidationError)
def validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    # Pydantic's own error dicts may hold exceptions in "ctx"; keep what a client can read.
    found = [{"loc": list(e.get("loc", ())), "msg": e["msg"], "type": e["type"]} for e in exc.errors]
    summary = "; ".join(f"{_field_name(e['loc'])}: {e['msg']}" for e in found[:5])
    return _error(request, 422, f"Invalid input: {summary}" if summary else "Invalid input", errors=found)


@api.exception_handler(AuthenticationError)
def authentication_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    response = _error(request, 401, "Authentication required: send 'Authorization: Bearer <token>' with a valid token")
    response["WWW-Authenticate"] = 'Bearer realm="api"'
    return response


@api.exception_handler(HttpError)
def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    if isinstance(exc.__cause__, MalformedBody):
        return _error(request, 422, str(exc.__cause__))
    if exc.status_code == 403 and "CSRF" in exc.message:
        return _error(request, 403, "CSRF check failed: send the X-CSRFToken header with session authentication")
    return _error(request, exc.status_code, exc.message)


@api.exception_handler(Http404)
def not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return _error(request, 404, str(exc) or "Not found")


@api.exception_handler(SuspiciousOperation)
def suspicious(request: HttpRequest, exc: SuspiciousOperation) -> HttpResponse:
    if isinstance(exc, RequestDataTooBig):
        return _error(request, 413, "The request body is too large")
    return _error(request, 400, "The request could not be read")


@api.exception_handler(RecursionError)
def too_deep(request: HttpRequest, exc: RecursionError) -> HttpResponse:
    # Bodies are depth-checked on the way in; this catches nested input that came another way (a
    # page cursor is base64 JSON). Logged with its traceback in case it is our own recursion.
    log.warning("RecursionError answered as bad input: %s %s", request.method, request.path, exc_info=exc)
    return _error(request, 422, "The request nests too deeply to be read")


@api.exception_handler(MultiPartParserError)
def bad_multipart(request: HttpRequest, exc: MultiPartParserError) -> HttpResponse:
    return _error(request, 400, f"The multipart body could not be read: {exc}")
