"""Generator speed: ONNX Runtime CPU vs torch eager CPU per frame, side by side in one run (+ GPU back ends).

    .venv/bin/python benchmarks/generator.py [--size 256] [--threads 2] [--rounds 5] [--frames 40]

Rounds interleave the back ends so that a change in machine load hits all of them alike; the ratio is what
to read on a shared machine. Writes benchmarks/generator.json and benchmarks/generator.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from avatar.expression.rig import RigCode
from avatar.runtime.manifest import SHIPPED_ENGINES, read_manifest
from avatar.runtime.neural import NeuralEngine, choices, model_name

HERE = Path(__file__).resolve().parent


def _engines_root(size: int) -> tuple[Path, str]:
    """The shipped model, or (for speed only: weights do not change it) an untrained one exported to a temp dir."""
    if model_name(size) in read_manifest(SHIPPED_ENGINES):
        return SHIPPED_ENGINES, "shipped"
    import torch

    from avatar.generator.export import ship
    from avatar.generator.network import Generator, GeneratorConfig

    root = Path(tempfile.mkdtemp(prefix="emotebot-bench-"))
    torch.manual_seed(0)
    ship(Generator(GeneratorConfig(size=size)), {"command": "benchmark stand-in"}, root, root / "cache", 2)
    return root, "untrained stand-in (same architecture)"


def _open(kind: str, size: int, root: Path, threads: int) -> NeuralEngine | None:
    try:
        runner = next(c for c in choices("auto" if kind == "tensorrt" else kind.split("-")[0], size, root, threads)
                      if c.kind == kind).open()
        runner.activate()
        return NeuralEngine(runner, size)
    except Exception as e:  # a benchmark reports what it could not run, and goes on
        print(f"{kind}: not run ({e})", file=sys.stderr)
        return None


def _codes(n: int) -> list[RigCode]:
    rng = np.random.default_rng(0)
    return [RigCode.from_dict({"head_yaw": float(rng.uniform(-40, 40)), "jaw_open": float(rng.uniform(0, 1)),
                               "happy": float(rng.uniform(0, 1)), "sad": float(rng.uniform(0, 1))}, warn=False)
            for _ in range(n)]


def run(size: int, threads: int, rounds: int, frames: int) -> dict:
    import torch

    root, model = _engines_root(size)
    kinds = ["onnx-cpu", "torch-cpu", "onnx-cuda", "torch-cuda", "tensorrt"]
    engines = {k: e for k in kinds if (e := _open(k, size, root, threads)) is not None}
    if "torch-cpu" in engines:  # torch's threads spin-wait and lose on a busy 2-core machine: show 1 thread too
        engines["torch-cpu-1thread"] = engines["torch-cpu"]
    codes = _codes(frames)
    times: dict[str, list[float]] = {k: [] for k in engines}
    load_before = os.getloadavg()[0]
    for engine in engines.values():  # warm-up: first runs allocate and tune
        for code in codes[:5]:
            engine.render(code)
    for _ in range(rounds):
        for kind, engine in engines.items():
            if kind.startswith("torch-cpu"):
                torch.set_num_threads(1 if kind.endswith("1thread") else threads)
            for code in codes:
                t0 = time.perf_counter()
                engine.render(code)  # the whole engine call: code in, uint8 RGBA image out
                times[kind].append(time.perf_counter() - t0)
    for engine in set(engines.values()):
        engine.close()
    result = {
        "size": size, "threads": threads, "model": model, "frames_per_backend": rounds * frames,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "load_average_before": round(load_before, 2), "load_average_after": round(os.getloadavg()[0], 2),
        "median_ms": {k: round(1000 * statistics.median(v), 3) for k, v in times.items()},
        "p90_ms": {k: round(1000 * float(np.percentile(v, 90)), 3) for k, v in times.items()},
        "not_run": [k for k in kinds if k not in engines],
    }
    if "onnx-cpu" in times and "torch-cpu" in times:
        med = result["median_ms"]
        result["torch_cpu_over_onnx_cpu"] = round(med["torch-cpu"] / med["onnx-cpu"], 2)
        result["torch_cpu_1thread_over_onnx_cpu"] = round(med["torch-cpu-1thread"] / med["onnx-cpu"], 2)
    return result


def markdown(r: dict) -> str:
    rows = "\n".join(f"| {k} | {r['median_ms'][k]} | {r['p90_ms'][k]} |" for k in r["median_ms"])
    ratio = r.get("torch_cpu_over_onnx_cpu")
    ratio1 = r.get("torch_cpu_1thread_over_onnx_cpu")
    return (f"# Generator speed ({r['size']}×{r['size']}, {r['threads']} CPU threads, {r['machine']}, load average "
            f"{r['load_average_before']} before / {r['load_average_after']} after)\n\n"
            f"Model: {r['model']}. {r['frames_per_backend']} frames per back end, rounds interleaved. Time of the "
            "whole engine call (rig code in, uint8 RGBA out).\n\n| back end | median ms | p90 ms |\n|---|---|---|\n"
            f"{rows}\n\n" + (f"torch eager CPU / ONNX Runtime CPU: **{ratio}×** with the same {r['threads']} threads, "
                              f"**{ratio1}×** against torch's best (1 thread)\n\n" if ratio else "")
            + f"Not run here: {', '.join(r['not_run']) or 'none'}.\n\n"
            "Reproduce: `.venv/bin/python benchmarks/generator.py`\n")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--frames", type=int, default=40)
    p.add_argument("--out", default=str(HERE / "generator"), help="writes OUT.json and OUT.md")
    args = p.parse_args()
    import torch

    torch.set_num_threads(args.threads)  # torch eager gets the same two threads as ONNX Runtime
    result = run(args.size, args.threads, args.rounds, args.frames)
    Path(args.out + ".json").write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    Path(args.out + ".md").write_text(markdown(result), encoding="utf-8")
    print(markdown(result))


if __name__ == "__main__":
    main()
