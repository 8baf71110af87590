"""Two-factor in the audit trail: setting up, renewing and removing an authenticator, and a wrong
second-factor code after a right password (a failed sign-in); never a secret or a code."""

from __future__ import annotations

import json

import pytest
from allauth.mfa.models import Authenticator

from sportello.audit.models import AuditEvent
from tests.sso.test_two_factor import activate_totp, later, password_sign_in, totp_code

pytestmark = pytest.mark.django_db


def test_two_factor_changes_and_a_wrong_code_are_recorded(client, agent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):  # allauth tells of a new one after commit
        secret = activate_totp(client, agent)
    with later(), django_capture_on_commit_callbacks(execute=True):
        assert password_sign_in(client, agent.username)["Location"] == "/auth/2fa/authenticate/"
        wrong = "000000" if totp_code(secret) != "000000" else "111111"
        client.post("/auth/2fa/authenticate/", {"code": wrong}, REMOTE_ADDR="203.0.113.9")
        assert client.post("/auth/2fa/authenticate/", {"code": totp_code(secret)})["Location"] == "/"
        client.post("/auth/2fa/recovery-codes/generate/")
        client.post("/auth/2fa/totp/deactivate/")
    assert not Authenticator.objects.filter(user=agent, type=Authenticator.Type.TOTP).exists()
    changes = [
        e.after for e in AuditEvent.objects.filter(action="auth.two_factor", target_id=str(agent.pk)).order_by("id")
    ]
    assert changes[0] == {"added": "totp"}
    assert {"reset": "recovery_codes"} in changes and {"removed": "totp"} in changes
    failed = AuditEvent.objects.get(action="auth.sign_in_failed")
    assert (failed.actor_label, failed.actor_ip, failed.after) == (
        agent.username,
        "203.0.113.9",
        {"step": "two-factor", "method": "totp"},
    )
    trail = json.dumps(list(AuditEvent.objects.values("before", "after")))
    assert secret not in trail and wrong not in trail
