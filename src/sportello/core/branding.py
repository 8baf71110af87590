"""The help desk's branding (name, logo, primary colour, support address): read on every page,
changed by admins on /settings/branding/.

Every page shows the name, so the row is kept per process under the lookups' version
(core/lookups.py), which `save_branding` bumps in its transaction: a page that read the version
already (the inbox, a ticket) passes it; any other page uses the version this process last saw,
checked again at most every RECHECK seconds, so a page adds no query in the common case and a
change made in another process shows within that time.
"""

from __future__ import annotations

import io
import re
import time
from dataclasses import dataclass

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.translation import gettext as _

from sportello.core import lookups
from sportello.core.errors import InvalidInput
from sportello.core.models import Branding

DEFAULT_NAME = "Sportello"
MAX_LOGO_BYTES = 512 * 1024
MIN_CONTRAST = 4.5  # links and white button text on the colour, against white (WCAG AA)
RECHECK = 60.0
HEX = re.compile(r"#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6})")
# The types a browser shows as a picture and nothing else (no SVG: it can hold script).
LOGO_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif", "WEBP": "image/webp"}


@dataclass(frozen=True)
class Brand:
    name: str
    logo_url: str  # "" without a logo
    color: str  # "" for the built-in colour
    color_strong: str
    color_soft: str
    support_address: str
    version: str  # changes with every save: the stylesheet's and the logo's addresses carry it
    saved: bool = False  # an admin saved it (else the built-in default: mail keeps DEFAULT_FROM_EMAIL)


DEFAULT = Brand(
    name=DEFAULT_NAME, logo_url="", color="", color_strong="", color_soft="", support_address="", version="0"
)

_checked: tuple[int | None, float] = (None, 0.0)  # the version last confirmed, and when
_last: Brand | None = None  # the branding this process read last (`last_known`)


def current(stamp: int | None = None) -> Brand:
    """The branding, read once per process and lookups' version."""
    global _checked, _last
    if stamp is None:
        known = lookups.known_stamp()
        seen, at = _checked
        now = time.monotonic()
        if known is not None and (known != seen or now - at < RECHECK):
            stamp = known  # read by this request or a recent one: no query
            if known != seen:
                _checked = (known, now)
        else:
            stamp = lookups.read_stamp()
            _checked = (stamp, now)
    _last = lookups.cached("branding", stamp, _load)
    return _last


def last_known() -> Brand:
    """The branding this process read last, else the default; never a query, so a page shown
    because the database failed (the server error page) can still carry the name."""
    return _last or DEFAULT


def _load() -> Brand:
    saved = Branding.objects.filter(pk=1).first()
    row = saved or Branding(pk=1)
    version = f"{row.updated_at:%Y%m%d%H%M%S%f}" if row.pk and row.updated_at else "0"
    color = row.primary_color
    return Brand(
        name=row.product_name or DEFAULT_NAME,
        logo_url=f"/settings/branding/logo?v={version}" if row.logo else "",
        color=color,
        color_strong=_mix(color, "#000000", 0.25) if color else "",
        color_soft=_mix(color, "#ffffff", 0.9) if color else "",
        support_address=row.support_address,
        version=version,
        saved=saved is not None,
    )


def clean_color(value: str) -> str:
    """`#rrggbb` in lower case, or "" for none; refused unless readable on white."""
    value = value.strip()
    if not value:
        return ""
    found = HEX.fullmatch(value)
    if found is None:
        raise InvalidInput(_("Write the colour as a hex code such as #1f5fbf."), field="primary_color")
    digits = found.group(1).lower()
    color = "#" + ("".join(c * 2 for c in digits) if len(digits) == 3 else digits)
    ratio = contrast(color, "#ffffff")
    if ratio < MIN_CONTRAST:
        raise InvalidInput(
            _(
                "%(color)s has a contrast of %(ratio).1f:1 on white; links and button text need at least "
                "%(min).1f:1. Choose a darker colour."
            )
            % {"color": color, "ratio": ratio, "min": MIN_CONTRAST},
            field="primary_color",
        )
    return color


def _channels(color: str) -> tuple[int, int, int]:
    return int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16)


def _luminance(color: str) -> float:
    def linear(channel: int) -> float:
        c = channel / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(c) for c in _channels(color))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    """The WCAG contrast ratio of two colours (1 to 21)."""
    light, dark = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def _mix(color: str, other: str, share: float) -> str:
    mixed = (round(a + (b - a) * share) for a, b in zip(_channels(color), _channels(other), strict=True))
    return "#" + "".join(f"{c:02x}" for c in mixed)


def logo_type(upload: UploadedFile) -> str:
    """The logo's content type, proven by decoding it; refused when too large or not a picture."""
    from PIL import Image, UnidentifiedImageError

    name = upload.name or "logo"
    if not upload.size:
        raise InvalidInput(_("“%(name)s” is empty.") % {"name": name}, field="logo")
    if upload.size > MAX_LOGO_BYTES:
        raise InvalidInput(
            _("“%(name)s” is too large (%(size)s); a logo may have %(limit)s at most.")
            % {"name": name, "size": filesizeformat(upload.size), "limit": filesizeformat(MAX_LOGO_BYTES)},
            field="logo",
        )
    upload.seek(0)
    data = upload.read()
    upload.seek(0)
    try:
        with Image.open(io.BytesIO(data)) as image:
            kind = image.format or ""
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        kind = ""
    if kind not in LOGO_TYPES:
        raise InvalidInput(
            _("“%(name)s” is not a PNG, JPEG, GIF or WebP picture.") % {"name": name},
            field="logo",
        )
    return LOGO_TYPES[kind]


def save_branding(
    *,
    product_name: str,
    primary_color: str,
    support_address: str,
    logo: UploadedFile | None = None,
    remove_logo: bool = False,
) -> Branding:
    """Change the branding (validated first: nothing is stored when any part is refused)."""
    name = " ".join(product_name.split())
    if not name:
        raise InvalidInput(_("Write the product's name."), field="product_name")
    color = clean_color(primary_color)
    content_type = logo_type(logo) if logo is not None else ""
    with transaction.atomic():
        row = Branding.objects.select_for_update().filter(pk=1).first() or Branding(pk=1)
        old_logo = row.logo.name if row.logo else ""
        row.product_name = name[:60]
        row.primary_color = color
        row.support_address = support_address.strip()
        row.updated_at = timezone.now()
        if logo is not None:
            row.logo.save(logo.name or "logo", logo, save=False)
            row.logo_type = content_type
        elif remove_logo:
            row.logo = ""  # type: ignore[assignment]
            row.logo_type = ""
        row.save()
        lookups.bump()
        replaced = old_logo if old_logo and old_logo != (row.logo.name if row.logo else "") else ""
        if replaced:
            storage = row.logo.storage
            transaction.on_commit(lambda: storage.delete(replaced))
    return row
