"""Phone: CTI call events from a PBX or Twilio, the call log, live pop-ups and click to dial."""

from django.apps import AppConfig


class PhoneConfig(AppConfig):
    name = "sportello.phone"
    label = "phone"
    verbose_name = "Phone"
