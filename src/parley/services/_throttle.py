"""Failed logins counted per username and per client address, in a sliding window."""

from __future__ import annotations

import math
from collections import OrderedDict, deque

from parley.clock import Clock
from parley.errors import TooManyRequests
from parley.settings import Settings

__all__ = ["LoginThrottle"]

_Key = tuple[str, str]  # ("username", name) or ("address", host)


class LoginThrottle:
    """Each key keeps the times of its recent attempts, at most its limit of them.

    An attempt counts from the moment it is admitted, before its password is checked, so a
    burst of concurrent guesses is refused as it arrives rather than after the hashing; a
    success takes its own attempt back. Keys are remembered least recently seen first out,
    so an attacker who cycles names or addresses cannot grow the memory without bound.
    """

    def __init__(self, clock: Clock, settings: Settings) -> None:
        self._clock = clock
        self._window_s = settings.login_window_s
        self._limits = {
            "username": settings.login_failures_per_username,
            "address": settings.login_failures_per_address,
        }
        self._capacity = settings.login_throttle_entries
        self._recent: OrderedDict[_Key, deque[float]] = OrderedDict()
        # A throttled key -> until when its refusals are already on record.
        self._refused: OrderedDict[_Key, float] = OrderedDict()

    def admit(self, username: str, address: str) -> float:
        """Count an attempt and return its time, or refuse it with TooManyRequests."""
        now = self._clock.now().timestamp()
        keys = (("username", username), ("address", address))
        wait = max(self._wait(key, now) for key in keys)
        if wait > 0:
            seconds = math.ceil(wait)
            raise TooManyRequests(
                f"too many failed logins for this username or address; retry in {seconds} s",
                retry_after_s=seconds,
            )
        for key in keys:
            self._times(key).append(now)
        return now

    def succeeded(self, username: str, address: str, at: float) -> None:
        """The attempt admitted at ``at`` was right: it does not count as a failure."""
        for key in (("username", username), ("address", address)):
            times = self._recent.get(key)
            if times is not None and at in times:
                times.remove(at)

    def first_refusal(self, username: str, address: str) -> bool:
        """Whether a refusal is news: the first since the username or address that throttles
        it began its wait. The audit trail records only those, so a flood of refused guesses,
        cycling names or not, writes an entry per throttled key and wait, not one each."""
        now = self._clock.now().timestamp()
        news = False
        for key in (("username", username), ("address", address)):
            wait = self._wait(key, now)
            if wait > 0 and self._refused.get(key, 0.0) <= now:
                self._refused[key] = now + wait
                self._refused.move_to_end(key)
                if len(self._refused) > self._capacity:
                    self._refused.popitem(last=False)
                news = True
        return news

    def remembered(self) -> int:
        """How many usernames and addresses are remembered (bounded by the setting)."""
        return len(self._recent)

    def _wait(self, key: _Key, now: float) -> float:
        """Seconds until ``key`` may try again; 0 if it may now."""
        times = self._recent.get(key)
        if times is None:
            return 0.0
        while times and times[0] <= now - self._window_s:
            times.popleft()
        if len(times) < self._limits[key[0]]:
            return 0.0
        return times[0] + self._window_s - now

    def _times(self, key: _Key) -> deque[float]:
        times = self._recent.get(key)
        if times is None:
            times = self._recent[key] = deque(maxlen=self._limits[key[0]])
            if len(self._recent) > self._capacity:
                self._recent.popitem(last=False)
        else:
            self._recent.move_to_end(key)
        return times
