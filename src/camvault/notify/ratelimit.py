"""Per-camera rate limit: an alarm storm sends one message per interval.

The first event of a camera goes at once; later ones within the interval are held, each
replacing the one held before (coalesced), and the last one held goes when the interval since
the previous send ends. Pure: the caller passes the time in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, TypeVar

Item = TypeVar("Item")


@dataclass
class RateLimiter(Generic[Item]):
    """At most one item per camera per ``interval_s`` seconds, latest wins."""

    interval_s: float
    _last_sent: dict[str, float] = field(default_factory=dict)
    _held: dict[str, Item] = field(default_factory=dict)

    def offer(self, camera: str, item: Item, now: float) -> Item | None:
        """The item to send now, or None when it is held (replacing an older held one)."""
        last = self._last_sent.get(camera)
        if last is None or now - last >= self.interval_s:
            self._last_sent[camera] = now
            self._held.pop(camera, None)
            return item
        self._held[camera] = item
        return None

    def holds(self, camera: str) -> bool:
        """True when an item of ``camera`` waits for its interval to end."""
        return camera in self._held

    def due(self, now: float) -> list[Item]:
        """Held items whose camera's interval has ended; they count as sent now."""
        ready = [camera for camera in self._held if now - self._last_sent[camera] >= self.interval_s]
        for camera in ready:
            self._last_sent[camera] = now
        return [self._held.pop(camera) for camera in ready]

    def next_due(self) -> float | None:
        """When the earliest held item becomes due (same clock as ``now``), or None."""
        times = [self._last_sent[camera] + self.interval_s for camera in self._held]
        return min(times) if times else None

    def release(self) -> list[Item]:
        """Every held item, now (shutting down)."""
        items = list(self._held.values())
        self._held.clear()
        return items
