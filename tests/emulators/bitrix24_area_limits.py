"""Limits of the Bitrix24 emulator: the leaky-bucket request counter and operating time."""

from __future__ import annotations

from tests.emulators.bitrix24_state import EmulatorState


class LimitsArea(EmulatorState):
    """The request-rate bucket and the per-method operating-time budget."""

    def _take_bucket_token(self) -> bool:
        now = self.clock()
        if self._bucket_at is not None:
            elapsed = max(0.0, now - self._bucket_at)
            self._bucket_level = max(0.0, self._bucket_level - elapsed * self.drain_per_second)
        self._bucket_at = now
        # The reference: "a request arriving when the counter is above X is rejected".
        level, burst = self._bucket_level, self.burst
        if level >= burst if self.refuse_at_burst else level > burst:
            # A rejected request is not executed and does not add to the counter.
            return False
        self._bucket_level += 1
        return True

    @property
    def bucket_level(self) -> float:
        """Current leaky-bucket counter (not drained to now)."""
        return self._bucket_level

    def fill_bucket(self) -> None:
        """Fill the leaky bucket to the burst size, as after a burst of other traffic."""
        self._bucket_level = float(self.burst)
        self._bucket_at = self.clock()

    def reset_rate_limit(self) -> None:
        """Empty the leaky bucket and all operating-time buckets."""
        self._bucket_level = 0.0
        self._bucket_at = None
        self._operating.clear()

    def _operating_state(self, credential: str, method: str) -> tuple[float, int | None]:
        minute = int(self.wall_clock() // 60)
        buckets = self._operating.get((credential, method), {})
        for old in [m for m in buckets if m <= minute - 10]:
            del buckets[old]
        if not buckets:
            return 0.0, None
        return sum(buckets.values()), (min(buckets) + 10) * 60

    def _add_operating(self, credential: str, method: str, seconds: float) -> None:
        minute = int(self.wall_clock() // 60)
        buckets = self._operating.setdefault((credential, method), {})
        buckets[minute] = buckets.get(minute, 0.0) + seconds
