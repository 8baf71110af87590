"""Scheduled reports: an agent subscribes to a report with its filters and gets it by mail.

- The page's **Subscribe** form (`subscribe`) stores the report's slug and the page's query string
  without its period (filters and granularity), weekly or monthly.
- `queue_due` (every 10 minutes through core/scheduler.py) finds the subscriptions whose period
  ended: weekly ones on Monday from 07:00 in the agent's time zone, covering the 7 whole days
  before; monthly ones on the 1st from 07:00, covering the previous month. For each it writes one
  outbox row (core/outbox.py) keyed by subscription and period, and moves `last_period` in the
  same transaction.
- `send_report_mail`, the outbox handler, builds the `ReportResult` as the agent would see it
  (their visibility; a deactivated agent or a customer gets nothing), and mails it in the agent's
  language and time zone: headline figures, the table, the chart as a PNG image (inline, many
  mail clients refuse SVG) and the page's CSV attached.

Guarantee: one outbox row per subscription and period (the key is unique and `last_period` moves
with it), so a rerun of the job queues nothing again; the mail leaves at least once, and twice
only in the outbox's one window (a worker dying after the SMTP server took it, before the row was
marked done), then under the same Message-ID.
"""

from __future__ import annotations

import io
import logging
import zoneinfo
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from email.mime.image import MIMEImage

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.http import Http404, HttpResponse, HttpResponseRedirect, QueryDict
from django.shortcuts import get_object_or_404, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from sportello.accounts.models import User
from sportello.core import outbox
from sportello.core.errors import InvalidInput
from sportello.core.models import OutboxMessage
from sportello.reports import views
from sportello.reports.frame import REPORTS, ReportResult
from sportello.reports.models import Frequency, ReportSubscription
from sportello.reports.services import Period
from sportello.tickets.views import AgentRequest, agent_view

log = logging.getLogger("sportello.reports")

KIND = "reports.subscription"
# The local hour a period's mail is due, on Monday (weekly) or the 1st (monthly).
SEND_HOUR = 7
# Not part of a subscription: the period is the one that just ended when the mail goes.
PERIOD_PARAMS = ("range", "since", "until", "format")
# Okabe-Ito, the colour-blind safe palette of the pages' charts (--chart-1 to --chart-8).
PALETTE = ["#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#000000"]


# --- Pages ------------------------------------------------------------------------------------------------


def stored_query(params: QueryDict) -> str:
    """The page's query string without its period: what a subscription keeps."""
    kept = params.copy()
    for name in PERIOD_PARAMS:
        kept.pop(name, None)
    return kept.urlencode()


@require_POST
@agent_view
def subscribe(request: AgentRequest, slug: str) -> HttpResponse:
    if slug not in REPORTS:
        raise Http404(_("There is no such report."))
    frequency = request.POST.get("frequency", "")
    if frequency not in Frequency.values:
        return HttpResponse(_("Choose weekly or monthly."), status=400, content_type="text/plain; charset=utf-8")
    query = stored_query(QueryDict(request.POST.get("query", "")))
    try:
        views.parse_query(QueryDict(query))  # bad filters are refused now, not at 07:00 on Monday
    except InvalidInput as err:
        return HttpResponse(err.message, status=400, content_type="text/plain; charset=utf-8")
    if len(query) > 1000:
        return HttpResponse(_("These filters are too long to keep."), status=400, content_type="text/plain")
    ReportSubscription.objects.get_or_create(user=request.user, report=slug, query=query, frequency=frequency)
    return HttpResponseRedirect(reverse("reports:subscriptions"))


@require_GET
@agent_view
def subscriptions(request: AgentRequest) -> HttpResponse:
    rows = ReportSubscription.objects.filter(user=request.user).order_by("report", "frequency", "pk")
    items = [
        {
            "subscription": row,
            "title": _(REPORTS[row.report][0]) if row.report in REPORTS else row.report,
            "url": reverse("reports:report", args=[row.report]) + (f"?{row.query}" if row.query else ""),
            "frequency": _("Weekly") if row.frequency == Frequency.WEEKLY else _("Monthly"),
        }
        for row in rows
    ]
    return render(request, "reports/subscriptions.html", {"items": items})


@require_POST
@agent_view
def unsubscribe(request: AgentRequest, pk: int) -> HttpResponse:
    get_object_or_404(ReportSubscription, pk=pk, user=request.user).delete()
    return HttpResponseRedirect(reverse("reports:subscriptions"))


# --- Which period is due ----------------------------------------------------------------------------------


def zone_of(user: User) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(user.time_zone or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def due_period(frequency: str, now: datetime, zone: zoneinfo.ZoneInfo) -> tuple[Period, datetime]:
    """The last period whose mail is due at `now` in `zone`, and the instant it became due."""
    local = now.astimezone(zone)
    today = local.date()
    if frequency == Frequency.WEEKLY:
        monday = today - timedelta(days=today.weekday())
        if local.time() < time(SEND_HOUR):
            monday -= timedelta(days=7)
        return Period(monday - timedelta(days=7), monday - timedelta(days=1)), _at(monday, zone)
    first = today.replace(day=1)
    if today.day == 1 and local.time() < time(SEND_HOUR):
        first = (first - timedelta(days=1)).replace(day=1)
    last = first - timedelta(days=1)
    return Period(last.replace(day=1), last), _at(first, zone)


def _at(day: date, zone: zoneinfo.ZoneInfo) -> datetime:
    return datetime.combine(day, time(SEND_HOUR), tzinfo=zone)


def queue_due(now: datetime | None = None) -> int:
    """Write an outbox row for every subscription whose period is due; return how many."""
    now = now or timezone.now()
    queued = 0
    rows = ReportSubscription.objects.filter(user__is_active=True).select_related("user")
    for row in rows:
        if not row.user.is_staff_member or row.report not in REPORTS:
            continue
        period, due_at = due_period(row.frequency, now, zone_of(row.user))
        # Not a period that ended before the subscription, nor one already queued.
        if due_at < row.created_at or (row.last_period is not None and row.last_period >= period.first):
            continue
        with transaction.atomic():
            taken = ReportSubscription.objects.filter(pk=row.pk, last_period=row.last_period).update(
                last_period=period.first
            )
            if taken:
                payload = {"subscription": row.pk, "first": period.first.isoformat(), "last": period.last.isoformat()}
                outbox.put(KIND, payload, key=f"{KIND}:{row.pk}:{period.first.isoformat()}")
                queued += 1
    return queued


# --- The mail ---------------------------------------------------------------------------------------------


def send_report_mail(message: OutboxMessage) -> None:
    """The outbox handler: the report of one period for one subscription, mailed to its agent."""
    from sportello.mail.outbound import loop_mark, outbox_message_id
    from sportello.mail.sender import sender

    p = message.payload
    row = ReportSubscription.objects.filter(pk=p.get("subscription")).select_related("user").first()
    if row is None or not row.user.is_staff_member or not row.user.email or row.report not in REPORTS:
        log.info("report mail %s not sent: the subscription, the agent or the report is gone", message.pk)
        return
    user = row.user
    title, build = REPORTS[row.report]
    period = Period(date.fromisoformat(p["first"]), date.fromisoformat(p["last"]))
    with translation.override(user.language or settings.LANGUAGE_CODE), timezone.override(zone_of(user)):
        try:
            query = replace(views.parse_query(QueryDict(row.query)), period=period)
            result = build(query, user)
        except InvalidInput as err:
            raise outbox.Failed(f"the report refused its filters: {err.message}") from err
        csv = views._csv(row.report, query, result.table)
        png = chart_png(result)
        site = settings.SITE_URL.rstrip("/")
        context = {
            "title": _(title),
            "query": query,
            "frequency": row.frequency,
            "url": site + reverse("reports:report", args=[row.report]) + "?" + views.query_string(query),
            "subscriptions_url": site + reverse("reports:subscriptions"),
            "has_chart": png is not None,
            **views.page_context(result, query),
        }
        subject = " ".join(render_to_string("reports/mail/subject.txt", context).split())
        text = render_to_string("reports/mail/body.txt", context)
        html = render_to_string("reports/mail/body.html", context)
    mail = EmailMultiAlternatives(
        subject=subject, body=text, from_email=sender(), to=[user.email],
        headers={
            "Message-ID": outbox_message_id(message, "report"),
            "Auto-Submitted": "auto-generated",
            "X-Loop": loop_mark(),
        },
    )  # fmt: skip
    mail.attach_alternative(html, "text/html")
    if png is not None:
        image = MIMEImage(png, "png")
        image.add_header("Content-ID", "<chart>")
        image.add_header("Content-Disposition", "inline", filename="chart.png")
        mail.attach(image)
    filename = csv["Content-Disposition"].split('filename="')[1].rstrip('"')
    mail.attach(filename, csv.content.decode("utf-8"), "text/csv")
    mail.send()
    ReportSubscription.objects.filter(pk=row.pk).update(last_sent_at=timezone.now())


# --- The chart as a picture -------------------------------------------------------------------------------

WIDTH, HEIGHT, MARGIN = 720, 320, 48


def chart_png(result: ReportResult) -> bytes | None:
    """The result's series drawn as bars (bar charts) or lines, Okabe-Ito colours; None without any."""
    from PIL import Image, ImageDraw, ImageFont

    series = [s for s in result.series if any(v is not None for v in s.values)]
    points = len(result.axis)
    if not series or not points:
        return None
    top = max(max(float(v) for v in s.values if v is not None) for s in series)
    top = top if top > 0 else 1.0
    legend = 18 * ((len(series) + 2) // 3)
    image = Image.new("RGB", (WIDTH, HEIGHT + legend), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default()
    left, right, upper, lower = MARGIN + 16, WIDTH - 16, 16, HEIGHT - MARGIN
    draw.line([(left, upper), (left, lower), (right, lower)], fill="#444444", width=1)
    for fraction in (0.5, 1.0):
        y = lower - fraction * (lower - upper)
        draw.line([(left, y), (right, y)], fill="#DDDDDD")
        draw.text((4, y - 6), views.format_value(round(top * fraction, 1)), fill="#444444", font=font)
    draw.text((4, lower - 6), "0", fill="#444444", font=font)
    step = (right - left) / points

    def y_of(value: float) -> float:
        return lower - (value / top) * (lower - upper)

    if result.chart in ("bar", "stacked-bar"):
        width = max(1.0, step * 0.8 / len(series))
        for index, s in enumerate(series):
            colour = PALETTE[index % len(PALETTE)]
            for i, value in enumerate(s.values[:points]):
                if value is None:
                    continue
                x = left + i * step + step * 0.1 + index * width
                draw.rectangle([(x, y_of(float(value))), (x + max(width - 1, 1), lower)], fill=colour)
    else:
        for index, s in enumerate(series):
            colour = PALETTE[index % len(PALETTE)]
            line: list[tuple[float, float]] = []
            for i, value in enumerate(s.values[:points]):
                if value is None:  # a gap, not a zero
                    if len(line) > 1:
                        draw.line(line, fill=colour, width=3)
                    line = []
                    continue
                line.append((left + (i + 0.5) * step, y_of(float(value))))
            if len(line) > 1:
                draw.line(line, fill=colour, width=3)
            for x, y in line:
                draw.ellipse([(x - 2, y - 2), (x + 2, y + 2)], fill=colour)
    draw.text((left, lower + 8), views._cell_text(result.axis[0]), fill="#444444", font=font)
    end = views._cell_text(result.axis[-1])
    draw.text((right - draw.textlength(end, font=font), lower + 8), end, fill="#444444", font=font)
    for index, s in enumerate(series):
        x = left + (index % 3) * ((right - left) // 3)
        y = HEIGHT - 12 + 18 * (index // 3)
        draw.rectangle([(x, y), (x + 12, y + 12)], fill=PALETTE[index % len(PALETTE)])
        draw.text((x + 18, y), str(s.label)[:40], fill="#222222", font=font)
    out = io.BytesIO()
    image.save(out, "PNG", optimize=True)
    return out.getvalue()
