"""Customer portal use cases: sign-in links, replies and new requests, closing a request.

Replies and new requests go through the one intake path (`ingest`, channel "portal"), like every
other channel. Sign-in links are single use and short lived; only their SHA-256 is stored, and
they are claimed with one conditional UPDATE, so two clicks at once cannot both sign in.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import authenticate
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from sportello.accounts.models import Role, User
from sportello.core.errors import InvalidInput, RateLimited
from sportello.core.ratelimit import (
    count_request,
    record_sign_in_failure,
    record_sign_in_success,
    retry_message,
    sign_in_retry_after,
)
from sportello.customers.identity import normalize
from sportello.customers.models import Customer, Identity, IdentityKind
from sportello.customers.services import Sender, is_staff_address, may_sign_in, verify_identity
from sportello.portal.models import MagicLink, hash_key
from sportello.tickets.attachments import AttachmentIn
from sportello.tickets.intake import Inbound, ingest
from sportello.tickets.models import Channel, Entry, Ticket

log = logging.getLogger("sportello.portal")

LINK_MINUTES = 15
SIGN_IN_SCOPE = "portal"  # failed password sign-ins are counted apart from the agents'


class StaffAddress(InvalidInput):
    """The address of an agent's or admin's account: they sign in on the agents' page."""


def identity_for_email(email: str) -> Identity | None:
    try:
        value = normalize(IdentityKind.EMAIL, email)
    except ValidationError:
        return None
    return Identity.objects.select_related("customer__user").filter(kind=IdentityKind.EMAIL, value=value).first()


def customer_for_email(email: str) -> Customer | None:
    identity = identity_for_email(email)
    return identity.customer if identity else None


def check_not_staff(email: str) -> None:
    """StaffAddress for an agent's or admin's address: the portal never signs staff in as customers."""
    if is_staff_address(email):
        raise StaffAddress(_("This is the address of a staff account. Agents and admins sign in on the agents' page."))


def signing_in_identity(email: str) -> Identity | None:
    """The identity this address signs in with, or None: unknown, or only claimed (an unverified
    address added to a file that began with another one: see customers.services.may_sign_in)."""
    identity = identity_for_email(email)
    if identity is None:
        return None
    if not may_sign_in(identity):
        log.info("portal: address of customer %s may not sign in (unverified or staff)", identity.customer_id)
        return None
    return identity


def portal_user_for_email(email: str) -> User | None:
    """The portal account of the customer with this address, if they have one and the address may sign in."""
    identity = signing_in_identity(email)
    user = identity.customer.user if identity else None
    return user if user is not None and user.is_active and user.role == Role.CUSTOMER else None


def sign_in_with_password(email: str, password: str, *, client_ip: str) -> User | None:
    """The portal account this address and password sign in, or None.

    Failures are counted per address (known or not, so the lock tells nobody who has an account)
    and per client IP; past the limit sign-in is refused with RateLimited, the right password too,
    until the lock ends (core/ratelimit.py). A success clears the address's count.
    """
    account = email.strip().lower()
    wait = sign_in_retry_after(SIGN_IN_SCOPE, client_ip=client_ip, account=account)
    if wait:
        raise RateLimited(retry_message(wait), retry_after=wait)
    check_not_staff(email)
    found = portal_user_for_email(email)
    user = authenticate(None, username=found.username, password=password) if found else None
    if not isinstance(user, User):
        wait = record_sign_in_failure(SIGN_IN_SCOPE, client_ip=client_ip, account=account)
        if wait:
            log.info("portal: password sign-in locked for %s s (ip %s)", wait, client_ip or "unknown")
            raise RateLimited(retry_message(wait), retry_after=wait)
        return None
    record_sign_in_success(SIGN_IN_SCOPE, account=account)
    return user


def _ensure_portal_user(customer: Customer, email: str) -> User | None:
    """The customer's portal account, made on their first sign-in link (with no usable password)."""
    if customer.user is not None:
        user = customer.user
        return user if user.is_active and user.role == Role.CUSTOMER else None
    user = User(username=f"customer-{customer.pk}-{secrets.token_hex(3)}", email=email, role=Role.CUSTOMER)
    user.first_name = customer.name[:150]
    user.set_unusable_password()
    user.save()
    Customer.objects.filter(pk=customer.pk).update(user=user)
    customer.user = user
    return user


def check_link_rate(*, client_ip: str, email: str) -> None:
    """Count one sign-in link request per client IP and per address in a fixed window (as the web form).

    1. Refuse when either counter already holds PORTAL_LINK_RATE_LIMIT requests of this window.
    2. Otherwise count this one: `add` starts a window only when none is running, `incr` is atomic.
    Every address is counted, known or not, so the limit tells nobody who is a customer; it stops a
    mailbox being flooded with links and the form being used to probe addresses.
    """
    limit, window = settings.PORTAL_LINK_RATE_LIMIT, settings.PORTAL_LINK_RATE_WINDOW
    if not count_request("portal:link-rate", client_ip=client_ip, email=email, limit=limit, window=window):
        log.info("portal: sign-in link rate limit reached (ip %s)", client_ip or "unknown")
        raise RateLimited(
            _("Too many sign-in links were asked for. Please wait a few minutes and try again."), retry_after=window
        )


def send_sign_in_link(email: str, *, client_ip: str = "") -> bool:
    """Mail a sign-in link to a known customer address; unknown addresses get nothing.

    The caller shows the same answer either way, so the form tells nobody who is a customer.
    Returns whether a link was made (for tests and logs). Raises RateLimited past the limit per
    address and per client IP.
    """
    check_link_rate(client_ip=client_ip, email=email)
    check_not_staff(email)
    identity = signing_in_identity(email)
    if identity is None:
        log.info("portal: sign-in link asked for an unknown or unconfirmed address")
        return False
    customer, to = identity.customer, identity.value
    if identity.undeliverable:
        log.info("portal: no sign-in link for customer %s: the address bounced", customer.pk)
        return False
    # The link names the identity it was mailed to (after the random part, covered by the stored
    # hash, so it cannot be changed): opening it proves the address and verifies it.
    key = f"{secrets.token_urlsafe(32)}.{identity.pk}"
    now = timezone.now()
    with transaction.atomic():
        user = _ensure_portal_user(customer, to)
        if user is None:
            log.info("portal: no sign-in link for customer %s: their account is not a customer account", customer.pk)
            return False
        MagicLink.objects.create(
            user=user, key_hash=hash_key(key), created_at=now, expires_at=now + timedelta(minutes=LINK_MINUTES)
        )
        url = settings.SITE_URL + reverse("portal:link", kwargs={"key": key})
        _mail_link(customer, to, url)
    return True


def _mail_link(customer: Customer, to: str, url: str) -> None:
    """The link's mail, written to the outbox in the link's transaction (sent after commit)."""
    from sportello.mail.outbound import schedule_sign_in_link

    schedule_sign_in_link(customer, to=to, url=url, minutes=LINK_MINUTES)


def redeem_sign_in_link(key: str) -> User:
    """The user a valid, unused, unexpired link signs in; it is spent. Otherwise InvalidInput."""
    now = timezone.now()
    claimed = MagicLink.objects.filter(
        key_hash=hash_key(key or ""), used_at__isnull=True, expires_at__gt=now, user__is_active=True
    ).update(used_at=now)
    if claimed != 1:
        raise InvalidInput(_("This sign-in link has expired or was already used. Ask for a new one."))
    user = MagicLink.objects.select_related("user").get(key_hash=hash_key(key)).user
    _verify_link_address(user, key)
    return user


def _verify_link_address(user: User, key: str) -> None:
    """The address a spent link was mailed to is proven: verify it, if it still belongs to this user's file."""
    _random, _dot, identity_id = key.rpartition(".")
    if not identity_id.isdigit():
        return  # a link made before links named their address
    identity = Identity.objects.filter(pk=int(identity_id), customer__user=user, kind=IdentityKind.EMAIL).first()
    if identity is not None:
        verify_identity(identity)


def change_portal_password(user: User, password: str) -> None:
    if user.role != Role.CUSTOMER:
        raise InvalidInput("Only customer accounts change their password here")
    user.set_password(password)
    user.save(update_fields=["password"])


def _sender(user: User) -> Sender:
    customer = Customer.objects.filter(user=user).first()
    if customer is None:
        raise InvalidInput("This account has no customer file")
    email = customer.primary_email
    if not email:
        raise InvalidInput("This customer has no email address")
    return Sender(name=customer.name, email=email)


def _attachments(files: Iterable[UploadedFile]) -> list[AttachmentIn]:
    return [AttachmentIn(filename=f.name or "attachment", content=f, content_type=f.content_type or "") for f in files]


def reply_from_portal(user: User, ticket: Ticket, *, body: str, files: Iterable[UploadedFile] = ()) -> Entry:
    """A customer's reply on a ticket they reached through `ticket_for_customer`."""
    result = ingest(
        Inbound(
            channel=Channel.PORTAL, sender=_sender(user), ticket=ticket, body_text=body,
            attachments=_attachments(files), language=user.language, metadata={"portal_user": user.pk},
        )
    )  # fmt: skip
    return result.entry


def open_ticket_from_portal(
    user: User, *, subject: str, body: str, files: Iterable[UploadedFile] = (), language: str = "en"
) -> Ticket:
    if not subject.strip():
        raise InvalidInput("A request needs a subject", field="subject")
    result = ingest(
        Inbound(
            channel=Channel.PORTAL, sender=_sender(user), subject=subject, body_text=body,
            attachments=_attachments(files), language=language, metadata={"portal_user": user.pk},
        )
    )  # fmt: skip
    return result.ticket
