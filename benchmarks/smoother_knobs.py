"""A One Euro filter whose two knobs a GRU turns: does learning help it on videos it never saw?

    nice -n 10 .venv/bin/python benchmarks/smoother_knobs.py [--steps 50 150 400] [--jobs 2]
        [--videos-cache F.npz] [--name NAME]
    nice -n 10 .venv/bin/python benchmarks/smoother_knobs.py --time-split 0.6

The filter is the product's One Euro on field-range units, except that per field and frame its cut-off is
min_cutoff·e^g1 + β·e^g2·|dx̂|, with g = span·tanh(GRU output) and the GRU's output layer starting at zero: at
step 0 it *is* One Euro at the product's default (0.75 Hz, β 15), and any change is learnt. The GRU sees every
field's innovation and speed (and their values), so it could open the filter when the whole face starts to
move, which a per-field One Euro cannot know. A few dozen knobs of the One Euro's own form have little room
to do anything but adapt the filter; if even this does not carry over to unseen clips, a free GRU will not.

Arms, all scored as benchmarks/smoother.py scores the videos (still-frame jitter at no more lag than the best
One Euro grid-searched on the same clips):
- leave one clip out: for each of the ten clips, a filter trained on the live tracker's output of the other
  nine (loss as benchmarks/smoother_crossfit.py: error against the zero-phase local fit, the output's
  curvature where that fit is still, blink fields held to the raw tracking) for each of `--steps`; the ten
  held-out outputs pooled;
- in sample: trained on all ten clips, scored on the same ten (what the loss can reach when it has seen
  the clip);
- synthetic: trained on the smoother's own synthetic clips (its training loss and data).
Writes benchmarks/results/smoother_knobs[_NAME].{json,md}. Nothing here touches engines/.

--time-split FRAC asks whether it would help as a per-user calibration: on each clip of 10 s or more, a filter
trained on the first FRAC of that clip alone (the same person, camera and session) and, as the control, one
trained on the first FRAC of the other long clips, both scored on the rest of the clip
(benchmarks/results/smoother_knobs_timesplit[_NAME].{json,md}).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

BASE_MIN_CUTOFF, BASE_BETA, D_CUTOFF = 0.75, 15.0, 1.0  # the product's One Euro default (Hz, -, Hz)


@dataclass(frozen=True)
class Recipe:
    """How one filter is trained: on what, how long, and the loss and model sizes."""

    data: str  # "real" (crops of the live tracker's output) or "synthetic" (the smoother's training clips)
    steps: int
    seed: int = 0
    hidden: int = 48
    span: float = 2.0  # |g| ≤ span: each knob moves at most e^span either way
    lr: float = 2e-3
    batch: int = 32
    still_weight: float = 30.0  # real clips: weight of the output's curvature where the local fit is still


def build(noise_std: np.ndarray, hidden: int, span: float):
    """The knob-turning filter as a torch module with the smoother's step contract (x, aux, state)."""
    import torch
    from torch import nn

    from avatar.expression.rig import N_FACE
    from avatar.smoothing.model import squash

    f = N_FACE

    class KnobFilter(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.cell = nn.GRUCell(3 * f + 3, hidden)
            self.out = nn.Linear(hidden, 2 * f)
            nn.init.zeros_(self.out.weight)
            nn.init.zeros_(self.out.bias)
            self.register_buffer("noise_std", torch.as_tensor(noise_std).reshape(1, -1).float().clamp_min(1e-4))

        def initial_state(self, x: torch.Tensor) -> torch.Tensor:
            return torch.cat([x.new_zeros(x.shape[0], hidden), x, torch.zeros_like(x)], 1)

        def forward(self, x: torch.Tensor, aux: torch.Tensor, state: torch.Tensor):
            h, y_prev, dx_prev = state[:, :hidden], state[:, hidden : hidden + f], state[:, hidden + f :]
            dt = aux[:, 0:1].clamp_min(0.25) / 30.0  # aux[0]: frame interval in 30 fps frames
            present = aux[:, 1:2]
            scale = self.noise_std * aux[:, 2:3].clamp_min(0.05)  # aux[2]: strength
            h = self.cell(torch.cat([4.0 * x, squash((x - y_prev) / scale), squash(dx_prev * dt / scale), aux], 1), h)
            g = span * torch.tanh(self.out(h))
            a_d = 1.0 / (1.0 + 1.0 / (2 * math.pi * D_CUTOFF * dt))
            dx_hat = a_d * (x - y_prev) / dt + (1 - a_d) * dx_prev
            cutoff = BASE_MIN_CUTOFF * torch.exp(g[:, :f]) + BASE_BETA * torch.exp(g[:, f:]) * dx_hat.abs()
            alpha = 1.0 / (1.0 + 1.0 / (2 * math.pi * cutoff * dt))
            y = y_prev + present * alpha * (x - y_prev)
            dx_hat = present * dx_hat + (1 - present) * dx_prev
            return y, torch.cat([h, y, dx_hat], 1)

    return KnobFilter()


class Stepper:
    """A trained KnobFilter behind the smoother's numpy step API, for evaluate.gru_runner."""

    def __init__(self, net) -> None:
        self.net = net

    def initial_state(self, x: np.ndarray) -> np.ndarray:
        import torch

        return self.net.initial_state(torch.as_tensor(np.asarray(x, np.float32).reshape(1, -1))).numpy()

    def step(self, x: np.ndarray, aux: np.ndarray, state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        import torch

        with torch.no_grad():
            y, s = self.net(torch.as_tensor(np.asarray(x, np.float32).reshape(1, -1)),
                            torch.as_tensor(np.asarray(aux, np.float32).reshape(1, -1)), torch.as_tensor(state))
        return y.numpy(), s.numpy()


def train(recipe: Recipe, real_clips: list) -> Stepper:
    import torch
    from smoother_crossfit import real_batch

    from avatar.smoothing.noise import PROFILE_PATH, NoiseProfile
    from avatar.smoothing.train import cosine_schedule, loss_fn, make_pool, realism, unroll
    from avatar.smoothing.train_config import TrainConfig

    torch.set_num_threads(1)
    torch.manual_seed(recipe.seed)
    profile = NoiseProfile.load(PROFILE_PATH)
    net = build(profile.std, recipe.hidden, recipe.span)
    if recipe.steps == 0:
        return Stepper(net.eval())
    config = TrainConfig()
    pool = real_batch(real_clips, 120, 10) if recipe.data == "real" else make_pool(
        profile, 2048, 160, recipe.seed, realism(config))
    opt = torch.optim.Adam(net.parameters(), lr=recipe.lr)
    sched = cosine_schedule(opt, recipe.steps)
    gen = torch.Generator().manual_seed(recipe.seed)
    for _ in range(recipe.steps):
        b = pool.pick(torch.randint(0, pool.x.shape[0], (recipe.batch,), generator=gen))
        out = unroll(net, b.x, b.aux)  # the KnobFilter keeps the smoother's step contract
        loss = (loss_fn(net, out, b, 0.0, recipe.still_weight) if recipe.data == "real"
                else loss_fn(net, out, b, config.jitter_weight, config.still_weight))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        sched.step()
    return Stepper(net.eval())


def long_clips(cache: Path | None) -> list:
    from smoother_crossfit import scored_clips

    return [c for c in scored_clips(cache) if len(c.values) / c.fps >= 10.0]


def calibrated(recipe: Recipe, cache: Path | None, k: int, own: bool, frac: float) -> tuple[int, np.ndarray]:
    """Long clip k through a filter trained on the first `frac` of clip k (own) or of the other long clips."""
    from dataclasses import replace

    from avatar.expression.rig import HIGH, LOW, N_FACE
    from avatar.smoothing.evaluate import gru_runner

    clips = long_clips(cache)

    def head(c):
        n = int(len(c.values) * frac)
        return replace(c, values=c.values[:n], present=c.present[:n])

    model = train(replace(recipe, seed=recipe.seed + k),
                  [head(clips[k])] if own else [head(c) for i, c in enumerate(clips) if i != k])
    c = clips[k]
    return k, gru_runner(model)(np.arange(len(c.values)) / c.fps, np.clip(c.values, LOW[:N_FACE], HIGH[:N_FACE]),
                                c.present)


def time_split(args: argparse.Namespace) -> dict:
    from smoother import clip_arrays, grid, one_euro_runner, pick, vs_one_euro

    from avatar.smoothing.metrics import score
    from avatar.smoothing.units import normalise

    clips = long_clips(args.videos_cache)
    xs, ts, fits = clip_arrays(clips)
    cuts = [int(len(x) * args.time_split) for x in xs]

    def scored(outs: list[np.ndarray]):  # the part of each clip after its cut
        ks = range(len(clips))
        return score([normalise(outs[k])[cuts[k]:] for k in ks], [fits[k][cuts[k]:] for k in ks],
                     [ts[k][cuts[k]:] for k in ks], [clips[k].present[cuts[k]:] for k in ks],
                     blink_refs=[normalise(xs[k])[cuts[k]:] for k in ks])

    rows = grid(lambda cfg: scored([one_euro_runner(cfg)(ts[k], xs[k], clips[k].present) for k in range(len(clips))]))
    recipe = Recipe("real", args.insample_steps)
    report: dict = {"clips": [c.name for c in clips], "frac": args.time_split, "recipe": asdict(recipe), "rows": []}
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        for own in (True, False):
            n = len(clips)
            outs = dict(pool.map(calibrated, [recipe] * n, [args.videos_cache] * n, range(n), [own] * n,
                                 [args.time_split] * n))
            g = scored([outs[k] for k in range(n)]).to_dict()
            e = pick(rows, g["lag_ms"])["one_euro_min_jitter_at_gru_lag"]
            report["rows"].append({"trained_on": "the same clip's start" if own else "the other clips' starts",
                                   "filter": g, "one_euro": e, "vs_one_euro": e and round(vs_one_euro(g, e), 3)})
            print(json.dumps(report["rows"][-1]), flush=True)
    return report


def time_split_markdown(r: dict) -> str:
    lines = ["# Smoother: the knob-turning One Euro as a per-user calibration", "",
             f"Made by `python benchmarks/smoother_knobs.py --time-split {r['frac']}`. Clips of 10 s or more "
             f"({', '.join(r['clips'])}); each filter trained {r['recipe']['steps']} steps on the first "
             f"{r['frac']:.0%} of clips, scored on the rest of each clip, pooled, against the best One Euro "
             "grid-searched on those same parts at no more lag. Jitter ×1e-3 @ lag ms.", "",
             "| trained on | filter jitter @ lag | best One Euro at ≤ that lag | vs One Euro | blinks kept |",
             "|---|---|---|---|---|"]
    for row in r["rows"]:
        g, e = row["filter"], row["one_euro"]
        euro = f"{e['jitter'] * 1e3:.3f} @ {e['lag_ms']} ({e['min_cutoff']} Hz, β {e['beta']})" if e else "-"
        vs = f"{row['vs_one_euro']:+.0%}" if row["vs_one_euro"] is not None else "-"
        lines.append(f"| {row['trained_on']} | {g['jitter'] * 1e3:.3f} @ {g['lag_ms']} | {euro} | {vs} | "
                     f"{g['blink_kept']:.0%} |")
    return "\n".join(lines) + "\n"


def outputs(recipe: Recipe, cache: Path | None, held_out: int | None) -> dict[int, np.ndarray]:
    """Train on the clips other than `held_out` (all when None) and run the live stage on the held-out one
    (on all of them when None), in rig units."""
    from smoother_crossfit import scored_clips

    from avatar.expression.rig import HIGH, LOW, N_FACE
    from avatar.smoothing.evaluate import gru_runner

    clips = scored_clips(cache)
    model = train(recipe, [c for i, c in enumerate(clips) if i != held_out])
    run = gru_runner(model)
    todo = range(len(clips)) if held_out is None else [held_out]
    return {k: run(np.arange(len(clips[k].values)) / clips[k].fps,
                   np.clip(clips[k].values, LOW[:N_FACE], HIGH[:N_FACE]), clips[k].present) for k in todo}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, nargs="+", default=[50, 150, 400], help="training steps, leave-one-out")
    p.add_argument("--insample-steps", type=int, default=400)
    p.add_argument("--synthetic-steps", type=int, default=800)
    p.add_argument("--jobs", type=int, default=2, help="filters trained at once (each uses one core)")
    p.add_argument("--videos-cache", type=Path, default=None, help="tracked videos (.npz), made on first use")
    p.add_argument("--name", default=None, help="suffix of the results files")
    p.add_argument("--time-split", type=float, default=None, metavar="FRAC",
                   help="only the per-user calibration test: train on the first FRAC of clips, score the rest")
    args = p.parse_args()
    out = REPO / "benchmarks" / "results"
    suffix = f"_{args.name}" if args.name else ""
    if args.time_split is not None:
        if not 0.2 <= args.time_split <= 0.8:
            p.error("--time-split must be within 0.2..0.8")
        split = time_split(args)
        (out / f"smoother_knobs_timesplit{suffix}.json").write_text(json.dumps(split, indent=2) + "\n")
        (out / f"smoother_knobs_timesplit{suffix}.md").write_text(time_split_markdown(split))
        print(time_split_markdown(split))
        return 0

    from smoother import clip_arrays, grid, one_euro_runner, pick, vs_one_euro
    from smoother_crossfit import scored_clips

    from avatar.smoothing.metrics import score
    from avatar.smoothing.one_euro import OneEuroConfig
    from avatar.smoothing.units import normalise

    t0 = time.perf_counter()
    clips = scored_clips(args.videos_cache)
    xs, ts, truths = clip_arrays(clips)
    present = [c.present for c in clips]

    def scored(outs: list[np.ndarray], only: list[int] | None = None):
        ks = only if only is not None else list(range(len(clips)))
        return score([normalise(outs[k]) for k in ks], [truths[k] for k in ks], [ts[k] for k in ks],
                     [present[k] for k in ks], blink_refs=[normalise(xs[k]) for k in ks])

    base_run = one_euro_runner(OneEuroConfig(BASE_MIN_CUTOFF, BASE_BETA, D_CUTOFF))
    base = [base_run(ts[k], xs[k], present[k]) for k in range(len(clips))]
    rows = grid(lambda cfg: scored([one_euro_runner(cfg)(ts[k], xs[k], present[k]) for k in range(len(clips))]))

    def row(name: str, recipe: Recipe, outs: dict[int, np.ndarray]) -> dict:
        g = scored([outs[k] for k in range(len(clips))]).to_dict()
        e = pick(rows, g["lag_ms"])["one_euro_min_jitter_at_gru_lag"]
        per_clip = {}
        for k, c in enumerate(clips):
            mine = scored([outs[i] for i in range(len(clips))], [k]).jitter
            theirs = scored(base, [k]).jitter
            per_clip[c.name] = round(mine / theirs, 2)
        r = {"arm": name, "recipe": asdict(recipe), "filter": g, "one_euro": e,
             "vs_one_euro": e and round(vs_one_euro(g, e), 3), "jitter_vs_default_by_clip": per_clip}
        print(json.dumps(r), flush=True)
        return r

    results = [row("One Euro default (step 0)", Recipe("real", 0), outputs(Recipe("real", 0), args.videos_cache, None))]
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        for steps in args.steps:
            recipe = Recipe("real", steps)
            outs: dict[int, np.ndarray] = {}
            for part in pool.map(outputs, [recipe] * len(clips), [args.videos_cache] * len(clips), range(len(clips))):
                outs.update(part)
            results.append(row("real, leave one clip out", recipe, outs))
    for name, recipe in (("real, in sample", Recipe("real", args.insample_steps)),
                         ("synthetic", Recipe("synthetic", args.synthetic_steps))):
        results.append(row(name, recipe, outputs(recipe, args.videos_cache, None)))
    report = {"clips": [c.name for c in clips], "seconds": round(time.perf_counter() - t0), "rows": results}
    stem = "smoother_knobs" + suffix
    (out / f"{stem}.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / f"{stem}.md").write_text(markdown(report))
    print(markdown(report))
    return 0


def markdown(report: dict) -> str:
    lines = ["# Smoother: a One Euro filter whose knobs a GRU turns", "",
             "Made by `python benchmarks/smoother_knobs.py` (see its docstring). It starts as One Euro at the "
             "product's default (0.75 Hz, β 15); the GRU learns to turn its two knobs per field and frame. "
             "Jitter ×1e-3 (still frames, field-range units) @ lag ms, pooled over the ten fixture videos; One "
             "Euro: the best of the grid at no more lag, on the same clips. Per clip: the filter's jitter over "
             "the default One Euro's on that clip.", "",
             "| trained on | steps | filter jitter @ lag | best One Euro at ≤ that lag | vs One Euro | blinks kept "
             "| jitter vs default, per clip |", "|---|---|---|---|---|---|---|"]
    for r in report["rows"]:
        g, e = r["filter"], r["one_euro"]
        euro = f"{e['jitter'] * 1e3:.3f} @ {e['lag_ms']} ({e['min_cutoff']} Hz, β {e['beta']})" if e else "-"
        vs = f"{r['vs_one_euro']:+.0%}" if r["vs_one_euro"] is not None else "-"
        clips = " ".join(f"{v:.2f}" for v in r["jitter_vs_default_by_clip"].values())
        lines.append(f"| {r['arm']} | {r['recipe']['steps']} | {g['jitter'] * 1e3:.3f} @ {g['lag_ms']} | {euro} | "
                     f"{vs} | {g['blink_kept']:.0%} | {clips} |")
    lines += ["", "Clips, in the order of the last column: " + ", ".join(report["clips"]) + "."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
