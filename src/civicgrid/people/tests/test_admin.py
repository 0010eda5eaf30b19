"""The user admin: a staff member's mobile is written there, stored encrypted and shown masked."""

from __future__ import annotations

import pytest
from django.db import transaction

from civicgrid.notify.actions import notify
from civicgrid.notify.models import OutboxMessage
from civicgrid.people.models import User

MOBILE = "13912345678"


def form(user: User, **fields: str) -> dict[str, str]:
    """The change form as the page posts it (the inline of memberships left as it is)."""
    return {
        "username": user.username,
        "display_name": user.display_name,
        "is_active": "on",
        "date_joined_0": "2026-11-01",
        "date_joined_1": "08:00:00",
        "memberships-TOTAL_FORMS": "0",
        "memberships-INITIAL_FORMS": "0",
        **fields,
    }


@pytest.mark.django_db
def test_a_staff_mobile_is_stored_encrypted_shown_masked_and_reached_by_sms(client, world):
    handler = world.users["handler_cg"]
    client.force_login(world.users["admin"])
    url = f"/admin/people/user/{handler.pk}/change/"

    refused = client.post(url, form(handler, phone="12ab"))
    assert refused.status_code == 200 and "phone" in refused.context["adminform"].form.errors
    assert client.post(url, form(handler, phone="139 1234-5678")).status_code == 302
    handler.refresh_from_db()
    assert handler.phone == MOBILE and MOBILE not in handler.phone_enc
    for page in (client.get(url), client.get("/admin/people/user/?q=handler_cg")):
        html = page.content.decode()
        assert MOBILE not in html and "139****5678" in html

    assert client.post(url, form(handler)).status_code == 302  # left empty: kept
    handler.refresh_from_db()
    assert handler.phone == MOBILE
    with transaction.atomic():
        notify([handler], title="新工单待签收", channels=["inapp", "sms"], subject_ref="CG-1")
    assert OutboxMessage.objects.get(channel="sms", subject_ref="CG-1").address == MOBILE

    assert client.post(url, form(handler, clear_phone="on")).status_code == 302
    handler.refresh_from_db()
    assert handler.phone_enc == "" and handler.phone == ""
