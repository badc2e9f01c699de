"""The embedded default's channel layer (one process, no Redis): channels' in-memory
layer, cleaning expired messages and group memberships at most once a second.

channels 4.3's `InMemoryChannelLayer` runs `_clean_expired` at every `receive` and
every `group_send`, and it walks every channel's queue and every group's members each
time: with N connections every relayed `signal` cost O(N), and a morning's burst of
joins O(N²) (issue 13: about 5% of the Daphne process's samples in a py-spy profile of a
300 burst, more at 999). Expiry is a safety net for a dead consumer's queue (messages
older than `expiry`, 60 s, and memberships older than `group_expiry`, a day): a second
late changes nothing."""

from __future__ import annotations

import time

from channels.layers import InMemoryChannelLayer as ChannelsInMemoryChannelLayer


class InMemoryChannelLayer(ChannelsInMemoryChannelLayer):
    # Seconds between two cleanings.
    clean_every: float = 1.0

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._cleaned_at = float("-inf")

    def _clean_expired(self) -> None:
        now = time.monotonic()
        if now - self._cleaned_at < self.clean_every:
            return
        self._cleaned_at = now
        super()._clean_expired()
