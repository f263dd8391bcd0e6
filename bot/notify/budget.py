"""Telegram's send budget as pure arithmetic: overall rate with a small burst, per-chat gaps."""

from __future__ import annotations

from collections import deque


class GlobalBudget:
    """At most `rate` sends in any one second, and at most `burst` at once after a quiet spell.

    A plain token bucket admits burst + rate in its first second (over Telegram's ceiling
    when the burst is large), so a one-second window caps it as well.
    """

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = burst
        self._tokens = float(burst)
        self._at: float | None = None
        self._window: deque[float] = deque()
        self._window_size = max(1, int(rate))

    def wait_time(self, now: float) -> float:
        """Seconds until one more send fits (0 when it fits now)."""
        tokens = self._refilled(now)
        waits = [0.0]
        if tokens < 1.0:
            waits.append((1.0 - tokens) / self.rate)
        while self._window and self._window[0] <= now - 1.0:
            self._window.popleft()
        if len(self._window) >= self._window_size:
            waits.append(self._window[0] + 1.0 - now)
        return max(waits)

    def take(self, now: float) -> None:
        """Count one send made now (call only when `wait_time` is 0)."""
        self._tokens = self._refilled(now) - 1.0
        self._at = now
        self._window.append(now)

    def _refilled(self, now: float) -> float:
        if self._at is None:
            return self._tokens
        return min(float(self.burst), self._tokens + (now - self._at) * self.rate)


class ChatGaps:
    """The earliest moment each chat may get its next message: 1/s private, 20/min a group."""

    def __init__(self, private_interval: float, group_per_minute: int) -> None:
        self.private_interval = private_interval
        self.group_interval = 60.0 / group_per_minute
        self._next: dict[int, float] = {}

    def ready_at(self, chat_id: int) -> float:
        """When the chat may get a message (0 when never sent to)."""
        return self._next.get(chat_id, 0.0)

    def sent(self, chat_id: int, now: float) -> None:
        """Note a send to a chat."""
        gap = self.group_interval if chat_id < 0 else self.private_interval
        self._next[chat_id] = now + gap

    def forget_before(self, now: float) -> None:
        """Drop chats whose gap has passed (keeps the map small over a long run)."""
        if len(self._next) > 10_000:
            self._next = {c: t for c, t in self._next.items() if t > now}
