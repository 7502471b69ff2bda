"""Does fine-tuning the smoother on real tracking help on videos it never saw? A two-fold cross-fit.

    nice -n 10 .venv/bin/python benchmarks/smoother_crossfit.py [--seeds 0 1 2] [--steps 500] [--jobs 2]
        [--videos-cache F.npz] [--name NAME]
    nice -n 10 .venv/bin/python benchmarks/smoother_crossfit.py --leave-one-out --seeds 0

The shipped GRU is fine-tuned twice per seed from its own checkpoint: once on synthetic clips alone (the
control: as many extra steps, no real data) and once with half of each batch cut from the live tracker's
output on one half of the fixture videos. Each model is scored on the other half, against the best One Euro
at no more lag, grid-searched on that held-out half itself (the benchmark's own scoring,
benchmarks/smoother.py). Nothing here touches engines/.

The real clips have no truth. Their loss is the benchmark's jitter (the output's second difference where the
zero-phase local fit of the raw tracking is still) plus a plain error against that local fit, which keeps
the output from freezing; the blink fields are held to the raw tracking instead, because the 9-frame local
fit flattens a blink (a first try against the fit kept 70 % of the blinks). Writes
benchmarks/results/smoother_crossfit[_NAME].{json,md}.

--leave-one-out learns from more clips: each clip is run through models fine-tuned on all the others (control
and real, first seed), and the held-out outputs, pooled, are scored against One Euro grid-searched on all the
clips (benchmarks/results/smoother_crossfit_loo[_NAME].{json,md}).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

HALVES = {"even": 0, "odd": 1}  # the benchmark's halves: every other clip of those it scores


@dataclass(frozen=True)
class Arm:
    """One fine-tuning: the half its real clips come from ("all" when leaving one out), whether it sees real
    tracking at all (False: the synthetic-only control), its seed and loss weights."""

    train_half: str
    real: bool
    seed: int
    steps: int
    lr: float = 5e-4
    real_share: float = 0.5  # share of each batch cut from real tracking
    still_weight: float = 30.0  # real clips: weight of the output's curvature where the local fit is still
    frames: int = 120  # frames per training crop
    stride: int = 10  # frames between crop starts

    @property
    def held_out(self) -> str:
        return "odd" if self.train_half == "even" else "even"


def real_batch(clips: list, frames: int, stride: int):
    """Crops of real tracking as a training Batch: readings, the local fit as the truth (raw on blink fields)."""
    import torch

    from avatar.expression.rig import HIGH, LOW, N_FACE
    from avatar.smoothing.metrics import BLINK_FIELDS, still_mask
    from avatar.smoothing.noise import local_fit
    from avatar.smoothing.train import Batch, aux_inputs
    from avatar.smoothing.units import normalise

    rows: list[tuple[np.ndarray, ...]] = []
    blink = list(BLINK_FIELDS)
    for c in clips:
        x = np.clip(c.values, LOW[:N_FACE], HIGH[:N_FACE])  # what the live smoother sees
        t = np.arange(len(x)) / c.fps
        xn, fit = normalise(x), normalise(local_fit(x))
        still = still_mask(fit, t) & c.present[:, None]  # the benchmark's still stretches
        truth = fit.copy()
        truth[:, blink] = xn[:, blink]
        aux = aux_inputs(t, c.present, 1.0)
        for s in range(0, len(x) - frames + 1, stride):
            e = s + frames
            rows.append((xn[s:e], aux[s:e], truth[s:e], c.present[s:e], still[s:e]))
    if not rows:
        raise ValueError(f"no clip is {frames} frames long")

    def f(i: int) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(np.stack([r[i] for r in rows]), dtype=np.float32))

    return Batch(f(0), f(1), f(2), f(3), torch.ones(len(rows)), f(4))


def finetune(arm: Arm, real_clips: list, folder: Path):
    """The shipped GRU fine-tuned as `arm` says (real crops from `real_clips` when arm.real), exported to
    `folder` and loaded back as the live stage runs it."""
    import torch

    from avatar.runtime.manifest import write_entry
    from avatar.smoothing.gru import load_gru
    from avatar.smoothing.noise import PROFILE_PATH, NoiseProfile
    from avatar.smoothing.ship import CHECKPOINT_FILE, ONNX_FILE, export_onnx, model_entry
    from avatar.smoothing.train import (
        cosine_schedule,
        load_checkpoint,
        loss_fn,
        make_pool,
        realism,
        save_checkpoint,
        unroll,
    )
    from avatar.smoothing.train_config import TrainConfig

    torch.set_num_threads(1)
    torch.manual_seed(arm.seed)
    recipe = json.loads((REPO / "engines" / "smoother_gru.json").read_text())["training"]
    shipped = TrainConfig(**{k: v for k, v in recipe.items() if k in TrainConfig.__dataclass_fields__})
    real = real_batch(real_clips, arm.frames, arm.stride) if arm.real else None
    pool_n = 1024
    synth = make_pool(NoiseProfile.load(PROFILE_PATH), pool_n, arm.frames, arm.seed + 7, realism(shipped))
    net = load_checkpoint(REPO / "engines" / CHECKPOINT_FILE).train()
    opt = torch.optim.Adam(net.parameters(), lr=arm.lr)
    sched = cosine_schedule(opt, arm.steps)
    gen = torch.Generator().manual_seed(arm.seed)
    n_real = int(64 * arm.real_share) if real is not None else 0
    n_syn = 64 - n_real
    for _ in range(arm.steps):
        b = synth.pick(torch.randint(0, pool_n, (n_syn,), generator=gen))
        loss = loss_fn(net, unroll(net, b.x, b.aux), b, shipped.jitter_weight, shipped.still_weight) * (n_syn / 64)
        if real is not None:
            r = real.pick(torch.randint(0, real.x.shape[0], (n_real,), generator=gen))
            loss = loss + loss_fn(net, unroll(net, r.x, r.aux), r, 0.0, arm.still_weight) * (n_real / 64)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        sched.step()
    net.eval()
    folder.mkdir(parents=True)
    shutil.copy(REPO / "engines" / "manifest.json", folder / "manifest.json")
    checkpoint = save_checkpoint(net, shipped, folder / CHECKPOINT_FILE)
    export_onnx(net, folder / ONNX_FILE)
    write_entry(model_entry(folder / ONNX_FILE, net, shipped, {}, PROFILE_PATH, checkpoint), folder)
    return load_gru(folder)


def scored_clips(cache: Path | None) -> list:
    from smoother import FIXTURES

    from avatar.smoothing.measure_noise import fixture_videos

    return [c for c in fixture_videos(FIXTURES, cache) if c.present.mean() > 0.9]  # as the benchmark scores


def run_arm(arm: Arm, cache: Path | None, folder: Path) -> dict:
    from smoother import videos, vs_one_euro

    model = finetune(arm, scored_clips(cache)[HALVES[arm.train_half] :: 2], folder)
    d = videos(model, cache)
    gru, euro = d["groups"][arm.held_out]["gru"], d["groups"][arm.held_out]["one_euro_min_jitter_at_gru_lag"]
    seen = d["groups"][arm.train_half]
    return {"arm": arm.__dict__, "held_out": arm.held_out, "gru": gru, "one_euro": euro,
            "vs_one_euro": euro and round(vs_one_euro(gru, euro), 3),
            "seen_half_vs_one_euro": seen["one_euro_min_jitter_at_gru_lag"] and round(
                vs_one_euro(seen["gru"], seen["one_euro_min_jitter_at_gru_lag"]), 3)}


def run_fold(k: int, arm: Arm, cache: Path | None, folder: Path) -> tuple[int, np.ndarray]:
    """Leave clip k out: fine-tune on the others, return the live stage's output on clip k (rig units)."""
    from avatar.expression.rig import HIGH, LOW, N_FACE
    from avatar.smoothing.evaluate import gru_runner

    clips = scored_clips(cache)
    model = finetune(arm, [c for i, c in enumerate(clips) if i != k], folder)
    c = clips[k]
    x = np.clip(c.values, LOW[:N_FACE], HIGH[:N_FACE])
    return k, gru_runner(model)(np.arange(len(x)) / c.fps, x, c.present)


def leave_one_out(seed: int, steps: int, jobs: int, cache: Path, tmp: Path) -> dict:
    """Each clip scored by models fine-tuned without it (synthetic only, and with real tracking); the held-out
    outputs pooled and scored against One Euro grid-searched on all the clips."""
    from smoother import clip_arrays, grid, one_euro_runner, pick, vs_one_euro

    from avatar.smoothing.metrics import score
    from avatar.smoothing.units import normalise

    clips = scored_clips(cache)
    xs, ts, truths = clip_arrays(clips)
    present = [c.present for c in clips]

    def scored(outs: list[np.ndarray]):
        return score([normalise(o) for o in outs], truths, ts, present, blink_refs=[normalise(x) for x in xs])

    rows = grid(lambda cfg: scored([one_euro_runner(cfg)(ts[i], xs[i], present[i]) for i in range(len(clips))]))
    out: dict = {"clips": [c.name for c in clips], "seed": seed, "steps": steps}
    with ProcessPoolExecutor(max_workers=max(1, jobs)) as pool:
        for real in (False, True):
            arm = Arm("all", real, seed, steps)
            futures = [pool.submit(run_fold, k, arm, cache, tmp / f"loo_{int(real)}_{k}") for k in range(len(clips))]
            outs = dict(f.result() for f in futures)
            g = scored([outs[k] for k in range(len(clips))]).to_dict()
            e = pick(rows, g["lag_ms"])["one_euro_min_jitter_at_gru_lag"]
            out["real" if real else "control"] = {"gru": g, "one_euro": e,
                                                  "vs_one_euro": e and round(vs_one_euro(g, e), 3)}
    return out


def loo_markdown(r: dict) -> str:
    lines = ["# Smoother: fine-tuning on real tracking, leave one clip out", "",
             f"Each of the {len(r['clips'])} fixture clips is run through the shipped GRU fine-tuned {r['steps']} "
             f"steps (seed {r['seed']}) without that clip; the held-out outputs are pooled and scored against the "
             "best One Euro at no more lag, grid-searched on all the clips.", "",
             "| fine-tune | pooled held-out GRU jitter ×1e-3 @ lag ms | best One Euro at ≤ that lag | "
             "GRU vs One Euro | blinks kept |", "|---|---|---|---|---|"]
    for key, what in (("control", "synthetic only (control)"), ("real", "synthetic + real tracking of the others")):
        g, e = r[key]["gru"], r[key]["one_euro"]
        euro = f"{e['jitter'] * 1e3:.3f} @ {e['lag_ms']:.1f} ({e['min_cutoff']} Hz, β {e['beta']})" if e else "n/a"
        vs = f"{r[key]['vs_one_euro'] * 100:+.0f} %" if e else "n/a"
        lines.append(f"| {what} | {g['jitter'] * 1e3:.3f} @ {g['lag_ms']:.1f} | {euro} | {vs} | "
                     f"{g['blink_kept'] * 100:.0f} % |")
    lines += ["", "Reproduce: `nice -n 10 .venv/bin/python benchmarks/smoother_crossfit.py --leave-one-out "
              f"--seeds {r['seed']} --steps {r['steps']}` (about 20 minutes on 2 cores)."]
    return "\n".join(lines) + "\n"


def shipped_halves(cache: Path | None) -> dict:
    from smoother import videos, vs_one_euro

    from avatar.smoothing.gru import load_gru

    d = videos(load_gru(REPO / "engines"), cache)
    return {h: {"gru": v["gru"], "one_euro": v["one_euro_min_jitter_at_gru_lag"],
                "vs_one_euro": round(vs_one_euro(v["gru"], v["one_euro_min_jitter_at_gru_lag"]), 3)}
            for h, v in d["groups"].items()}


def markdown(rows: list[dict], shipped: dict, steps: int) -> str:
    lines = ["# Smoother: fine-tuning on real tracking, two-fold cross-fit", "",
             f"Each model: the shipped GRU fine-tuned {steps} more steps, scored on the half of the fixture videos "
             "it never saw, against the best One Euro at no more lag grid-searched on that half. The control saw no "
             "video: its last column is only its figure on the other half.", "",
             "| fine-tuned on | seed | scored on | GRU jitter ×1e-3 @ lag ms | One Euro ×1e-3 @ lag ms (min_cutoff, β) "
             "| GRU vs One Euro | blinks kept | same model on the half it saw |", "|---|---|---|---|---|---|---|---|"]
    for h in ("even", "odd"):
        s = shipped[h]
        lines.append(f"| nothing (shipped) | - | {h} | {s['gru']['jitter'] * 1e3:.3f} @ {s['gru']['lag_ms']:.1f} | "
                     f"{s['one_euro']['jitter'] * 1e3:.3f} @ {s['one_euro']['lag_ms']:.1f} "
                     f"({s['one_euro']['min_cutoff']}, {s['one_euro']['beta']}) | {s['vs_one_euro'] * 100:+.0f} % | "
                     f"{s['gru']['blink_kept'] * 100:.0f} % | - |")
    for r in sorted(rows, key=lambda r: (r["held_out"], r["arm"]["real"], r["arm"]["seed"])):
        a, g, e = r["arm"], r["gru"], r["one_euro"]
        what = f"synthetic + real ({a['train_half']} half)" if a["real"] else "synthetic only (control)"
        euro = f"{e['jitter'] * 1e3:.3f} @ {e['lag_ms']:.1f} ({e['min_cutoff']}, {e['beta']})" if e else "n/a"
        vs = f"{r['vs_one_euro'] * 100:+.0f} %" if r["vs_one_euro"] is not None else "n/a"
        seen = f"{r['seen_half_vs_one_euro'] * 100:+.0f} %" if r["seen_half_vs_one_euro"] is not None else "n/a"
        lines.append(f"| {what} | {a['seed']} | {r['held_out']} | {g['jitter'] * 1e3:.3f} @ {g['lag_ms']:.1f} | "
                     f"{euro} | {vs} | {g['blink_kept'] * 100:.0f} % | {seen} |")
    lines += ["", "Means over the seeds:", "",
              "| fine-tuned on | scored on | GRU jitter ×1e-3 @ lag ms | GRU vs One Euro "
              "| same model on the half it saw |",
              "|---|---|---|---|---|"]
    for h in ("even", "odd"):
        for real in (False, True):
            rs = [r for r in rows if r["held_out"] == h and r["arm"]["real"] == real]
            if not rs:
                continue
            vs = [r["vs_one_euro"] for r in rs if r["vs_one_euro"] is not None]
            seen = [r["seen_half_vs_one_euro"] for r in rs if r["seen_half_vs_one_euro"] is not None]
            what = f"synthetic + real ({rs[0]['arm']['train_half']} half)" if real else "synthetic only (control)"
            lines.append(f"| {what} | {h} | {np.mean([r['gru']['jitter'] for r in rs]) * 1e3:.3f} @ "
                         f"{np.mean([r['gru']['lag_ms'] for r in rs]):.1f} | "
                         f"{np.mean(vs) * 100:+.0f} % | {np.mean(seen) * 100:+.0f} % |" if vs and seen else
                         f"| {what} | {h} | n/a | n/a | n/a |")
    seeds = " ".join(str(s) for s in sorted({r["arm"]["seed"] for r in rows}))
    lines += ["", "Reproduce: `nice -n 10 .venv/bin/python benchmarks/smoother_crossfit.py "
              f"--seeds {seeds} --steps {steps}` (about 20 minutes on 2 cores; `--videos-cache F.npz` keeps "
              "the tracking for the next run)."]
    return "\n".join(lines) + "\n"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--steps", type=int, default=500, help="fine-tuning steps per model")
    p.add_argument("--jobs", type=int, default=2, help="models trained at once (each uses one core)")
    p.add_argument("--videos-cache", type=Path, default=None, help="tracked videos (.npz), made on first use")
    p.add_argument("--name", default=None, help="suffix of the results files")
    p.add_argument("--leave-one-out", action="store_true",
                   help="leave each clip out in turn instead of the two halves (first seed only)")
    args = p.parse_args()
    name = "smoother_crossfit" + ("_loo" if args.leave_one_out else "") + (f"_{args.name}" if args.name else "")
    out = REPO / "benchmarks" / "results" / name
    arms = [Arm(h, real, s, args.steps) for s in args.seeds for real in (False, True) for h in HALVES]
    with tempfile.TemporaryDirectory(prefix="smoother_crossfit_") as tmp:
        cache = args.videos_cache or Path(tmp) / "videos.npz"
        scored_clips(cache)  # track once (or read the cache), not in every worker
        if args.leave_one_out:
            result = leave_one_out(args.seeds[0], args.steps, args.jobs, cache, Path(tmp))
            text = loo_markdown(result)
            print(text)
            out.with_suffix(".json").write_text(json.dumps(result, indent=1) + "\n")
            out.with_suffix(".md").write_text(text)
            return 0
        with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            futures = [pool.submit(run_arm, a, cache, Path(tmp) / f"{i}") for i, a in enumerate(arms)]
            shipped = shipped_halves(cache)
            rows = [f.result() for f in futures]
    text = markdown(rows, shipped, args.steps)
    print(text)
    out.with_suffix(".json").write_text(json.dumps({"shipped": shipped, "rows": rows}, indent=1) + "\n")
    out.with_suffix(".md").write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
