"""How much the smoother's verdict on the fixture videos rests on what stands in for their missing truth.

    nice -n 10 .venv/bin/python benchmarks/smoother_stand_ins.py [--cache-dir /tmp/stand_ins]

The videos benchmark (benchmarks/smoother.py) must take its truth from the noisy reading itself: a 9-frame local
fit. Its still frames (where jitter is measured) are then the frames where that reading happens to pause, which
are the frames where the tracker's noise happens to be quiet. Here the still frames are also chosen by two other
trackers reading the same frames, whose noise is their own: FaceMesh in static-image mode (it detects afresh
every frame, without the video mode's crop tracking) and the Tasks FaceLandmarker in image mode (another model).
Lag is measured against the reading's own local fit throughout. The same is done on the moved photos
(benchmarks/smoother_moved.py), where the truth is known, to see which stand-in gives the known verdict.
Writes benchmarks/results/smoother_stand_ins.{json,md}.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

import smoother_moved as moved  # noqa: E402 (after the path set-up)
from smoother import FIXTURES, clip_arrays, grid, pick, write_results  # noqa: E402

from avatar.expression.rig import HIGH, LOW, N_FACE  # noqa: E402
from avatar.smoothing.evaluate import Runner, gru_runner, identity_runner, one_euro_runner  # noqa: E402
from avatar.smoothing.gru import GruStep, load_gru  # noqa: E402
from avatar.smoothing.measure_noise import (  # noqa: E402
    VIDEOS,
    fixture_videos,
    load_clips,
    save_clips,
    track_clip,
    video_frames,
)
from avatar.smoothing.metrics import Scores, score, still_mask  # noqa: E402
from avatar.smoothing.moved import Reader, known_truth  # noqa: E402
from avatar.smoothing.noise import Clip, local_fit  # noqa: E402
from avatar.smoothing.one_euro import OneEuroConfig  # noqa: E402
from avatar.smoothing.units import normalise  # noqa: E402
from avatar.tracking.base import TrackerConfig  # noqa: E402
from avatar.tracking.facemesh import FaceMeshTracker  # noqa: E402
from avatar.tracking.tasks import TasksTracker  # noqa: E402

log = logging.getLogger("smoother_stand_ins")
TASK = FIXTURES / "mediapipe" / "face_landmarker.task"
REFERENCES: dict[str, Callable[[], Reader]] = {  # other trackers, each reading the same frames afresh
    "facemesh_static": lambda: FaceMeshTracker(TrackerConfig(static_images=True)),
    "tasks_image": lambda: TasksTracker(TrackerConfig(static_images=True, face_model=str(TASK)), TASK),
}
_LO, _HI = LOW[:N_FACE], HIGH[:N_FACE]


def _cached(path: Path | None, make: Callable[[], list[Clip]]) -> list[Clip]:
    if path is not None and path.is_file():
        return load_clips(path)[0]
    clips = make()
    if path is not None:
        save_clips(path, clips)
    return clips


def video_references(kind: str, cache: Path | None) -> list[Clip]:
    def make() -> list[Clip]:
        out = []
        for name in VIDEOS:
            frames, fps = video_frames(FIXTURES / "videos" / name)
            out.append(track_clip(frames, fps, REFERENCES[kind]().process, name))
            log.info("%s read %s", kind, name)
        return out

    return _cached(cache, make)


def verdict(gru_outs: list[np.ndarray], raw_outs: list[np.ndarray], euro: Callable[[OneEuroConfig], list[np.ndarray]],
            lag_truths: list[np.ndarray], ts: list[np.ndarray], present: list[np.ndarray],
            masks: list[np.ndarray]) -> dict:
    """The bar's figure with jitter on `masks` and lag against `lag_truths`: the GRU against the One Euro grid."""

    def on(outs: list[np.ndarray]) -> Scores:
        return score(outs, lag_truths, ts, present, still=masks)

    gru, raw = on(gru_outs), on(raw_outs)
    best = pick(grid(lambda c: on(euro(c))), gru.lag_ms)["one_euro_min_jitter_at_gru_lag"]
    return {"still_values": int(sum(m.sum() for m in masks)), "raw_jitter": raw.jitter, "gru_jitter": gru.jitter,
            "gru_lag_ms": round(gru.lag_ms, 2),
            "one_euro": best and {k: best[k] for k in ("jitter", "lag_ms", "min_cutoff", "beta")},
            "vs_one_euro": best and round(gru.jitter / best["jitter"] - 1.0, 3)}


def stand_ins(model: GruStep, clips: list[Clip], refs: dict[str, list[Clip]], known: list[np.ndarray] | None) -> dict:
    """The verdict with still frames chosen by each stand-in (and by the known truth when there is one)."""
    keep = [i for i, c in enumerate(clips) if c.present.mean() > 0.9]
    clips = [clips[i] for i in keep]
    xs, ts, own = clip_arrays(clips)
    present = [c.present for c in clips]
    fits = {k: [normalise(local_fit(np.clip(r[i].values, _LO, _HI))) for i in keep] for k, r in refs.items()}

    def mask(truths: list[np.ndarray]) -> list[np.ndarray]:
        return [still_mask(c, t) & p[:, None] for c, t, p in zip(truths, ts, present, strict=True)]

    choices = {"own local fit (the videos benchmark)": mask(own)} | {
        f"{k} local fit": mask(f) for k, f in fits.items()}
    both = [a & b for a, b in zip(*(mask(f) for f in fits.values()), strict=True)]
    choices["both other trackers"] = both
    if known is not None:
        choices["known truth"] = mask([known[i] for i in keep])
    def outputs(runner: Runner) -> list[np.ndarray]:
        return [normalise(runner(ts[i], xs[i], present[i])) for i in range(len(xs))]

    euro_runs: dict[OneEuroConfig, list[np.ndarray]] = {}  # each grid point run once, scored on every choice

    def euro(c: OneEuroConfig) -> list[np.ndarray]:
        if c not in euro_runs:
            euro_runs[c] = outputs(one_euro_runner(c))
        return euro_runs[c]

    gru, raw = outputs(gru_runner(model)), outputs(identity_runner)
    return {name: verdict(gru, raw, euro, own, ts, present, m) for name, m in choices.items()}


def markdown(r: dict) -> str:
    lines = [f"# The smoother's verdict under each stand-in for the missing truth ({r['machine']})", "",
             "Jitter on the frames where the chosen stand-in is still; lag against the reading's own local fit; "
             "One Euro grid-searched for the lowest jitter at no more lag. Raw = the unsmoothed reading's jitter on "
             "those frames: how quiet the chosen frames are.", ""]
    for key, title in (("moved", "Moved photos (the truth is known)"), ("videos", "Fixture videos (ten clips)")):
        lines += [f"## {title}", "", "| still frames chosen by | still values | raw jitter (×1e-3) | GRU (×1e-3) / "
                  "lag ms | best One Euro at ≤ its lag | GRU vs One Euro |", "|---|---|---|---|---|---|"]
        for name, v in r[key].items():
            e = v["one_euro"]
            euro = f"{e['jitter'] * 1e3:.3f} / {e['lag_ms']:.1f} ({e['min_cutoff']} Hz, β {e['beta']})" if e else "none"
            vs = f"{v['vs_one_euro'] * 100:+.0f} %" if e else "n/a"
            lines.append(f"| {name} | {v['still_values']} | {v['raw_jitter'] * 1e3:.2f} | {v['gru_jitter'] * 1e3:.3f} "
                         f"/ {v['gru_lag_ms']:.1f} | {euro} | {vs} |")
        lines.append("")
    return "\n".join([*lines, "Reproduce: `nice -n 10 .venv/bin/python benchmarks/smoother_stand_ins.py` (about 8 "
                      "minutes; `--cache-dir DIR` keeps the tracking)", ""])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--engines", type=Path, default=REPO / "engines")
    p.add_argument("--cache-dir", type=Path, default=None, help="a folder to keep every tracking in")
    p.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "smoother_stand_ins")
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if not TASK.is_file():
        raise SystemExit(f"{TASK} is missing: the Tasks reference needs the fixtures' face_landmarker.task")
    d = args.cache_dir
    if d is not None:
        d.mkdir(parents=True, exist_ok=True)
    at = (lambda name: d / name) if d is not None else (lambda name: None)
    model = load_gru(args.engines)
    pairs = moved.tracked(at("moved.npz"))
    known = [normalise(np.clip(known_truth(c.values, c.present, m), _LO, _HI)) for c, m in pairs]
    refs = {k: [c for c, _ in moved.tracked(at(f"moved_{k}.npz"), tracker=make)] for k, make in REFERENCES.items()}
    r = {"moved": stand_ins(model, [c for c, _ in pairs], refs, known),
         "videos": stand_ins(model, fixture_videos(FIXTURES, at("videos.npz")),
                             {k: video_references(k, at(f"videos_{k}.npz")) for k in REFERENCES}, None),
         "model_sha256": model.entry.sha256,
         "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"}
    write_results(args.out, r, markdown)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
