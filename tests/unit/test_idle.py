"""Idle motion and the scripted performance: deterministic, lively, within the rig's ranges."""

from __future__ import annotations

import numpy as np

from avatar.capture.base import SourceConfig
from avatar.capture.scripted import DEMO_PERFORMANCE, ScriptedSource
from avatar.expression.idle import blink_amount, idle_face
from avatar.expression.rig import HIGH, LOW, N_FACE, Expression


def test_idle_is_deterministic_and_in_range():
    a = np.array([idle_face(i / 30).values for i in range(600)])
    b = np.array([idle_face(i / 30).values for i in range(600)])
    assert np.array_equal(a, b)
    assert np.all(a >= LOW[:N_FACE]) and np.all(a <= HIGH[:N_FACE])


def test_idle_blinks_at_a_human_rate_and_closes_fully():
    b = np.array([blink_amount(i / 100) for i in range(6000)])  # one minute at 100 Hz
    starts = np.sum((b[:-1] == 0) & (b[1:] > 0))
    assert 10 <= starts <= 30  # people blink roughly 15-20 times a minute
    assert b.max() > 0.95
    assert np.mean(b > 0.5) < 0.05  # the eyes are open nearly all the time


def test_demo_performance_shows_every_expression_within_about_ten_seconds():
    src = ScriptedSource(SourceConfig(source="script", realtime=False), clock=lambda: 0.0, sleep=lambda s: None)
    src.open()
    frames = []
    while (f := src.read()) is not None:
        frames.append(f)
    seen = {e.expression for f in frames for e in f.events}
    assert seen == set(Expression)
    assert 9.0 <= len(frames) / src.fps <= 12.0
    assert {b.expression for b in DEMO_PERFORMANCE} == set(Expression)
