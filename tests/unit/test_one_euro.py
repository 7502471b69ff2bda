"""The One Euro filter reproduces its authors' test vector and handles odd timestamps."""

from __future__ import annotations

import csv

import numpy as np

from avatar.smoothing.one_euro import OneEuroConfig, OneEuroFilter


def test_matches_authors_test_vector(fixtures):
    with open(fixtures / "one_euro" / "groundTruth.csv") as f:
        rows = [tuple(map(float, r.values())) for r in csv.DictReader(f)]
    filt = OneEuroFilter(OneEuroConfig(min_cutoff=1.0, beta=0.1, d_cutoff=1.0))
    out = np.array([filt.step(np.array([noisy]), t)[0] for t, _, noisy, _ in rows])
    expected = np.array([r[3] for r in rows])
    assert len(rows) == 1200
    assert np.max(np.abs(out - expected)) < 1e-4


def test_reduces_jitter_on_a_still_signal():
    rng = np.random.default_rng(0)
    filt = OneEuroFilter()
    noisy = 0.5 + rng.normal(0, 0.05, size=(300, 3))
    out = np.array([filt.step(x, i / 30) for i, x in enumerate(noisy)])
    assert out[100:].std() < noisy[100:].std() / 3


def test_repeated_and_backwards_timestamps_hold():
    filt = OneEuroFilter()
    filt.step(np.array([0.0]), 0.0)
    a = filt.step(np.array([1.0]), 0.1)
    assert np.array_equal(filt.step(np.array([5.0]), 0.1), a)
    assert np.array_equal(filt.step(np.array([5.0]), 0.05), a)
