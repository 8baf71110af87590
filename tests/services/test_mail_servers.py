"""The real mail servers the email channel is tested against start and answer."""

from __future__ import annotations

import smtplib

from django.core.mail import get_connection, send_mail


def test_dovecot_keeps_appended_mail_and_its_flags(dovecot):
    dovecot.append(b"From: a@example.com\r\nTo: support@example.test\r\nSubject: t\r\n\r\nhello\r\n")
    [(uid, flags)] = dovecot.flags()
    assert uid == 1 and b"\\Seen" not in flags


def test_django_smtp_backend_delivers_to_the_sink(smtp_sink):
    connection = get_connection(
        "django.core.mail.backends.smtp.EmailBackend", host=smtp_sink.host, port=smtp_sink.port, timeout=60
    )
    send_mail("Hello", "Body", "support@example.test", ["carla@example.com"], connection=connection)
    [(sender, recipients, raw)] = smtp_sink.messages
    assert sender == "support@example.test" and recipients == ["carla@example.com"] and b"Body" in raw
    with smtplib.SMTP(smtp_sink.host, smtp_sink.port, timeout=60) as client:
        client.sendmail("x@example.com", ["y@example.com"], b"Subject: raw\r\n\r\nraw body\r\n")
    assert smtp_sink.parsed()[1]["Subject"] == "raw"
