"""core.rendering: the API writes every aware moment in UTC, whatever zone it was computed in."""

import json
from datetime import UTC, datetime, timedelta, timezone

from civicgrid.core.rendering import ApiJSONEncoder

BEIJING = timezone(timedelta(hours=8))


def test_aware_moments_are_written_in_utc_and_naive_ones_as_they_are():
    local = datetime(2026, 11, 30, 9, 30, tzinfo=BEIJING)
    body = json.loads(
        json.dumps(
            {"due": local, "utc": local.astimezone(UTC), "naive": datetime(2026, 1, 2, 3, 4)},
            cls=ApiJSONEncoder,
        )
    )
    assert body == {
        "due": "2026-11-30T01:30:00Z",
        "utc": "2026-11-30T01:30:00Z",
        "naive": "2026-01-02T03:04:00",
    }


def test_moments_are_written_as_djangos_encoder_writes_them_in_utc():
    from django.core.serializers.json import DjangoJSONEncoder

    moments = [
        datetime(2026, 11, 30, 9, 30, 5, 123456, tzinfo=BEIJING),
        datetime(2026, 11, 30, 9, 30, 5, 999, tzinfo=UTC),
        datetime(2026, 2, 28, 23, 59, 59, tzinfo=timezone(timedelta(hours=-5, minutes=-30))),
    ]
    for moment in moments:
        ours = json.dumps(moment, cls=ApiJSONEncoder)
        assert ours == json.dumps(moment.astimezone(UTC), cls=DjangoJSONEncoder)
        assert ours.endswith('Z"')
    assert json.dumps(moments[0], cls=ApiJSONEncoder) == '"2026-11-30T01:30:05.123Z"'
