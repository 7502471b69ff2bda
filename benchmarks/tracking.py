"""Tracking back ends side by side: speed per 640×480 frame, per-field agreement, golden landmarks, head pose.

    nice -n 10 .venv/bin/python benchmarks/tracking.py [--fixtures DIR] [--frames 300] [--only speed|agreement]

Writes benchmarks/tracking.json and benchmarks/tracking.md.
- speed: the same frames (fixture clips resized to 640×480) go through FaceMesh and the Tasks FaceLandmarker
  alternately, frame by frame, in one process, so both see the same machine load; tracking and solving (with
  the online normaliser and the expression reader, as in `emotebot run`) are timed separately, as wall time
  and as the process's CPU time (all threads), which other jobs on the machine disturb much less.
- agreement: both back ends read every fixture face clip the way `emotebot track` does (online normaliser);
  per rig field, the Pearson correlation of the two readings over all frames (each clip's mean removed first,
  so a different neutral per back end does not count), and the median of the per-clip correlations.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from avatar.expression.rig import FACE_FIELD_NAMES  # noqa: E402 (after the path set-up above)
from avatar.frames import Image, PixelFormat  # noqa: E402
from avatar.tracking.base import TrackerBackend, TrackerConfig  # noqa: E402
from avatar.tracking.reader import FaceReader  # noqa: E402
from avatar.tracking.track_cmd import TrackOptions, track_records  # noqa: E402

CLIPS = ("lp_d0.mp4", "lp_d3.mp4", "lp_d6.mp4", "lp_d9.mp4", "lp_d10.mp4", "lp_d12.mp4", "lp_d14.mp4",
         "lp_d18.mp4", "lp_d19.mp4", "lp_s20_small_face.mp4", "pyfeat_single_face.mp4")
BACKENDS = ("facemesh", "tasks")


def config(backend: str, model: Path) -> TrackerConfig:
    return TrackerConfig(backend=TrackerBackend(backend), face_model=str(model) if backend == "tasks" else "")


def frames_640(fixtures: Path, n: int) -> list[np.ndarray]:
    out: list[np.ndarray] = []
    for clip in ("lp_d9.mp4", "lp_d3.mp4", "lp_d12.mp4"):
        cap = cv2.VideoCapture(str(fixtures / "videos" / clip))
        while len(out) < n * (1 + ("lp_d9.mp4", "lp_d3.mp4", "lp_d12.mp4").index(clip)) // 3:
            ok, f = cap.read()
            if not ok:
                break
            out.append(cv2.resize(f, (640, 480)))
        cap.release()
    return out


def speed(fixtures: Path, model: Path, n: int) -> dict[str, dict[str, float]]:
    """Milliseconds per 640×480 frame for each back end, interleaved frame by frame."""
    readers = {b: FaceReader(config(b, model)) for b in BACKENDS}
    times: dict[str, dict[str, list[float]]] = {b: {"tracking": [], "solver": [], "cpu": []} for b in BACKENDS}
    for i, pixels in enumerate(frames_640(fixtures, n)):
        image = Image(pixels, PixelFormat.BGR)
        for b, reader in readers.items():
            c0, t0 = time.process_time(), time.perf_counter()
            lm = reader.track(image, i / 30)
            t1 = time.perf_counter()
            if lm is not None:
                reader.solve(lm, i / 30)
            t2, c2 = time.perf_counter(), time.process_time()
            if i >= 10:  # the first frames include graph start-up
                times[b]["tracking"].append(t1 - t0)
                times[b]["solver"].append(t2 - t1)
                times[b]["cpu"].append(c2 - c0)
    for reader in readers.values():
        reader.close()
    out = {}
    for b, t in times.items():
        total = np.array(t["tracking"]) + np.array(t["solver"])
        out[b] = {"tracking_ms_p50": round(float(np.median(t["tracking"])) * 1e3, 2),
                  "solver_ms_p50": round(float(np.median(t["solver"])) * 1e3, 3),
                  "total_ms_p50": round(float(np.median(total)) * 1e3, 2),
                  "total_ms_p90": round(float(np.percentile(total, 90)) * 1e3, 2),
                  "cpu_ms_p50": round(float(np.median(t["cpu"])) * 1e3, 2), "frames": len(total)}
    return out


def agreement(fixtures: Path, model: Path) -> dict[str, dict[str, float]]:
    per_clip: dict[str, list[float]] = {f: [] for f in FACE_FIELD_NAMES}
    pooled: dict[str, list[np.ndarray]] = {b: [] for b in BACKENDS}
    for clip in CLIPS:
        reads = {}
        for b in BACKENDS:
            records = list(track_records(str(fixtures / "videos" / clip), TrackOptions(config(b, model))))
            reads[b] = records
        both = [i for i, (a, c) in enumerate(zip(reads["facemesh"], reads["tasks"], strict=False)) if a.face and c.face]
        for b in BACKENDS:
            x = np.array([reads[b][i].params.values for i in both], dtype=np.float64)
            pooled[b].append(x - x.mean(axis=0))
        for j, f in enumerate(FACE_FIELD_NAMES):
            a, c = pooled["facemesh"][-1][:, j], pooled["tasks"][-1][:, j]
            if a.std() > 1e-4 and c.std() > 1e-4:
                per_clip[f].append(float(np.corrcoef(a, c)[0, 1]))
    fm, ts = np.concatenate(pooled["facemesh"]), np.concatenate(pooled["tasks"])
    return {f: {"r_pooled": round(float(np.corrcoef(fm[:, j], ts[:, j])[0, 1]), 3),
                "r_clip_median": round(float(np.median(per_clip[f])), 3) if per_clip[f] else float("nan"),
                "frames": len(fm)}
            for j, f in enumerate(FACE_FIELD_NAMES)}


def markdown(result: dict) -> str:
    lines = ["# Tracking back ends", "", f"Made by `benchmarks/tracking.py` on {result['machine']}.", "",
             "## Time per 640×480 frame (median; goal ≤ 6 ms tracking + solver)", "",
             "| back end | tracking ms | solver ms | total ms (p50) | total ms (p90) | CPU ms (p50, all threads) | "
             "frames |", "|---|---|---|---|---|---|---|"]
    for b, s in result["speed"].items():
        lines.append(f"| {b} | {s['tracking_ms_p50']} | {s['solver_ms_p50']} | {s['total_ms_p50']} | "
                     f"{s['total_ms_p90']} | {s['cpu_ms_p50']} | {s['frames']} |")
    lines += ["", "Wall times depend on what else the machine runs (see the load average above); CPU time (all of the "
              "process's threads) much less."]
    lines += ["", "## Per-field agreement of the two back ends (Pearson r, fixture face clips)", "",
              "| field | r (all frames, clip means removed) | r (median over clips) |", "|---|---|---|"]
    for f, a in result["agreement"].items():
        lines.append(f"| {f} | {a['r_pooled']} | {a['r_clip_median']} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--fixtures", type=Path, default=REPO.parent / "shared" / "fixtures")
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--only", choices=("speed", "agreement"), help="re-measure one part, keep the other's record")
    args = ap.parse_args()
    model = args.fixtures / "mediapipe" / "face_landmarker.task"
    record = REPO / "benchmarks" / "tracking.json"
    result = json.loads(record.read_text()) if args.only and record.exists() else {}
    if args.only != "agreement":
        load = os.getloadavg()[0]
        result["machine"] = (f"{platform.processor() or platform.machine()}, {platform.system()}, "
                             f"{os.cpu_count()} logical CPUs, load average {load:.1f} when timing started")
        result["speed"] = speed(args.fixtures, model, args.frames)
    if args.only != "speed":
        result["agreement"] = agreement(args.fixtures, model)
    record.write_text(json.dumps(result, indent=2) + "\n")
    (REPO / "benchmarks" / "tracking.md").write_text(markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()
