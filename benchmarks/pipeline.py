"""Pipeline benchmark: `emotebot bench` on a scripted and a fixture source, studio renderer vs generator, side by side.

Usage: .venv/bin/python benchmarks/pipeline.py [--frames 150] [--out benchmarks/results/pipeline.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from avatar.app import bench  # noqa: E402
from avatar.config import AppConfig  # noqa: E402

FIXTURE = REPO.parent / "shared" / "fixtures" / "videos" / "lp_d0.mp4"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--frames", type=int, default=150)
    p.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "pipeline.json"))
    args = p.parse_args()
    runs = []
    for source in ("script", str(FIXTURE)):
        for engine in ("reference", "onnx"):
            config = AppConfig().override("source", source=source).override("engine", engine=engine, size=256)
            result = bench(config, None, frames=args.frames)
            result.update(source=Path(source).name, engine=engine)
            runs.append(result)
            print(json.dumps(result), flush=True)
    report = {"machine": f"{platform.machine()}, {platform.processor() or 'cpu'}, python {platform.python_version()}",
              "output": "1280x720, null sink, no real-time pacing", "frames": args.frames, "runs": runs}
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    base = runs[0]["generator"]
    for r in runs:
        print(f"{r['source']:>12} {r['engine']:>9}: generator {r['generator']:.1f} ms "
              f"({r['generator'] / base:.2f}x the scripted reference run), fps {r['fps']}, "
              f"end to end p50 {r['end_to_end_p50']:.1f} ms p99 {r['end_to_end_p99']:.1f} ms")


if __name__ == "__main__":
    main()
