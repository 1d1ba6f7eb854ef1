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
        # (username, address) -> until when its refusals are already on record
        self._refused: OrderedDict[tuple[str, str], float] = OrderedDict()

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

    def first_refusal(self, username: str, address: str, retry_after_s: int) -> bool:
        """Whether a refusal is the first of this username and address in its wait: the one
        the audit trail records, so that a flood of refused guesses writes one entry, not one
        each. Remembered as keys are, at most the setting's number of pairs."""
        now = self._clock.now().timestamp()
        pair = (username, address)
        if self._refused.get(pair, 0.0) > now:
            return False
        self._refused[pair] = now + retry_after_s
        self._refused.move_to_end(pair)
        if len(self._refused) > self._capacity:
            self._refused.popitem(last=False)
        return True

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
