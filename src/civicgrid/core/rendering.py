"""How the API writes JSON: ninja's encoder, with every moment in UTC.

A value read from the database comes in UTC ("…Z"); a deadline a step has just computed comes in the
working calendar's zone ("…+08:00"). The same instant must read the same in a step's reply and in a
later read of the case, so every aware datetime is written in UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ninja.renderers import JSONRenderer
from ninja.responses import NinjaJSONEncoder


class ApiJSONEncoder(NinjaJSONEncoder):
    def default(self, o: Any) -> Any:
        if isinstance(o, datetime) and o.tzinfo is not None:
            # Written here as DjangoJSONEncoder writes it (milliseconds, "Z"): a step's reply has a
            # dozen moments, and the encoders' chain of type checks cost more than the formatting.
            text = o.astimezone(UTC).isoformat()
            if o.microsecond:
                text = text[:23] + text[26:]
            return text.removesuffix("+00:00") + "Z"
        return super().default(o)


class ApiRenderer(JSONRenderer):
    encoder_class = ApiJSONEncoder
