"""One smoother training recipe over several seeds, each model scored on the fixture videos (all, by half, and
the held-out clips nothing was made from).

    nice -n 10 .venv/bin/python benchmarks/smoother_seeds.py --seeds 0 1 2 [--jobs 2] [TRAIN FLAGS...]

TRAIN FLAGS are `emotebot train smoother`'s (--jumps 3, --still-weight 10, ...); the models go to a scratch
folder, never into engines/. On these videos one training's figure moves by 20-40 points from seed to seed,
more than most changes to the recipe do, so recipes are compared here, seed by seed. Writes
benchmarks/results/smoother_seeds_<name>.{json,md} when --name is given.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from avatar.cli import build_parser  # noqa: E402 (after the path set-up)
from avatar.smoothing.commands import train_config  # noqa: E402
from avatar.smoothing.train_config import TrainConfig  # noqa: E402


def train_and_score(config: TrainConfig, folder: Path, cache: Path | None) -> dict:
    from smoother import held_out_videos, videos, vs_one_euro  # the benchmark's own scoring: truth, grid, ratio

    from avatar.smoothing.gru import load_gru
    from avatar.smoothing.ship import train_and_ship

    folder.mkdir(parents=True)
    shutil.copy(REPO / "engines" / "manifest.json", folder / "manifest.json")
    train_and_ship(config, folder, eval_clips=8)
    model = load_gru(folder)
    d, held = videos(model, cache), held_out_videos(model, cache)

    def verdict(gru: dict, euro: dict | None) -> dict:
        return {"gru_jitter": gru["jitter"], "gru_lag_ms": gru["lag_ms"], "blink_kept": gru["blink_kept"],
                "one_euro_jitter": euro and euro["jitter"],
                "vs_one_euro": euro and round(vs_one_euro(gru, euro), 3)}

    return {"seed": config.seed, "all": verdict(d["gru"], d["one_euro_min_jitter_at_gru_lag"]),
            **{h: verdict(v["gru"], v["one_euro_min_jitter_at_gru_lag"]) for h, v in d["groups"].items()},
            "held_out": verdict(held["gru"], held["one_euro_min_jitter_at_gru_lag"])}


def markdown(recipe: dict, rows: list[dict]) -> str:
    changed = {k: v for k, v in recipe.items() if k != "seed" and v != getattr(TrainConfig, k)}
    lines = [f"# Smoother recipe over seeds: {changed or 'the shipped settings'}", "",
             "GRU jitter against the best One Euro at no more lag (grid-searched on the same clips), fixture videos.",
             "", "| seed | all: vs One Euro (GRU lag ms) | even half | odd half | blinks kept | held-out clips |",
             "|---|---|---|---|---|---|"]

    def f(v: dict) -> str:
        return f"{v['vs_one_euro'] * 100:+.0f} % ({v['gru_lag_ms']:.0f})" if v["vs_one_euro"] is not None else "n/a"

    for r in rows:
        lines.append(f"| {r['seed']} | {f(r['all'])} | {f(r['even'])} | {f(r['odd'])} | "
                     f"{r['all']['blink_kept'] * 100:.0f} % | {f(r['held_out'])} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)  # --seed is a train flag
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--jobs", type=int, default=2, help="trainings at once (each uses one core)")
    p.add_argument("--videos-cache", type=Path, default=None, help="tracked videos (.npz), made on first use")
    p.add_argument("--name", default=None, help="save the results as benchmarks/results/smoother_seeds_NAME")
    args, train_flags = p.parse_known_args()
    base = train_config(build_parser().parse_args(["train", "smoother", *train_flags]))
    if args.videos_cache is not None:  # track once (when not cached yet), not in every worker
        from smoother import FIXTURES, held_out_clips

        from avatar.smoothing.measure_noise import fixture_videos

        fixture_videos(FIXTURES, args.videos_cache)
        held_out_clips(args.videos_cache)
    configs = [TrainConfig(**{**asdict(base), "seed": s}) for s in args.seeds]
    with tempfile.TemporaryDirectory(prefix="smoother_seeds_") as tmp, \
            ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = [pool.submit(train_and_score, c, Path(tmp) / f"seed{c.seed}", args.videos_cache) for c in configs]
        rows = [f.result() for f in futures]
    text = markdown(asdict(base), rows) + (f"\nReproduce: `nice -n 10 .venv/bin/python benchmarks/smoother_seeds.py "
                                           f"{' '.join(sys.argv[1:])}` (about 12 min on 2 cores).\n")
    print(text)
    if args.name:
        out = REPO / "benchmarks" / "results" / f"smoother_seeds_{args.name}"
        out.with_suffix(".json").write_text(json.dumps({"recipe": asdict(base), "seeds": rows}, indent=1) + "\n")
        out.with_suffix(".md").write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
