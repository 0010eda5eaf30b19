"""Cases API (filled in by the cases work)."""

from ninja import Router

router = Router(tags=["cases"])
