"""The one-item slot: live video drops the oldest, offline work waits, close wakes everyone."""

from __future__ import annotations

import threading

from avatar.queues import LatestSlot


def test_live_slot_keeps_newest_and_counts_drops():
    slot: LatestSlot[int] = LatestSlot(lossless=False)
    for i in range(5):
        assert slot.put(i)
    assert slot.get(timeout=0) == 4
    assert slot.dropped == 4
    assert slot.get(timeout=0) is None


def test_lossless_slot_waits_for_the_consumer():
    slot: LatestSlot[int] = LatestSlot(lossless=True)
    got: list[int] = []

    def consume() -> None:
        while (item := slot.get(timeout=2)) is not None:
            got.append(item)

    t = threading.Thread(target=consume)
    t.start()
    for i in range(50):
        slot.put(i)
    slot.close()
    t.join(5)
    assert got == list(range(50))
    assert slot.dropped == 0


def test_close_wakes_a_blocked_producer_and_consumer():
    slot: LatestSlot[int] = LatestSlot(lossless=True)
    slot.put(1)
    result: list[bool] = []
    t = threading.Thread(target=lambda: result.append(slot.put(2)))
    t.start()
    slot.close()
    t.join(2)
    assert result == [False]
    assert slot.get() == 1  # what was handed over before close is still delivered
    assert slot.get() is None
