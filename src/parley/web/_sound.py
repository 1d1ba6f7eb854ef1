"""The flash alarm: two short tones, made here with the standard library's wave module."""

from __future__ import annotations

import functools
import io
import math
import struct
import wave

__all__ = ["flash_wav"]

RATE = 16_000
TONES = ((880.0, 0.18), (0.0, 0.08), (1320.0, 0.28))  # (hertz, seconds); 0 Hz is silence
VOLUME = 0.4
FADE_S = 0.01  # a tone cut dead clicks


def _samples(hertz: float, seconds: float) -> list[int]:
    count = int(RATE * seconds)
    fade = int(RATE * FADE_S)
    return [
        int(
            32767
            * VOLUME
            * math.sin(2 * math.pi * hertz * n / RATE)
            * min(1.0, n / fade, (count - n) / fade)
        )
        for n in range(count)
    ]


@functools.cache
def flash_wav() -> bytes:
    """16-bit mono PCM, about half a second."""
    samples = [s for hertz, seconds in TONES for s in _samples(hertz, seconds)]
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(RATE)
        wav.writeframes(struct.pack(f"<{len(samples)}h", *samples))
    return out.getvalue()
