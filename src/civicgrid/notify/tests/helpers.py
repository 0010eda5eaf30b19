"""A stand-in channel that records what it sends and fails on demand."""

from __future__ import annotations

from civicgrid.notify.channels import DeliveryError
from civicgrid.notify.models import OutboxMessage


class Recorder:
    """Use as `monkeypatch.setattr(actions, "get_channel", recorder)`: every channel is this one."""

    def __init__(self) -> None:
        self.sent: list[int] = []
        self.fail: Exception | None = None

    def __call__(self, name: str) -> Recorder:
        return self

    def send(self, message: OutboxMessage) -> None:
        if self.fail is not None:
            raise self.fail
        self.sent.append(message.pk)


def down() -> DeliveryError:
    return DeliveryError("channel is down")
