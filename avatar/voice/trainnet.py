"""The verifier network in torch, its training loop, data assembly and export to the numpy layout."""

from __future__ import annotations

import argparse
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from avatar.voice.corpus import TRIGGERS, load_noises
from avatar.voice.train import (
    TRAIN_NOISES,
    Windows,
    clip_windows,
    kws_stage,
    speaker_of,
    synthetic_windows,
)
from avatar.voice.verifier import VerifierSpec

log = logging.getLogger(__name__)


def split_speakers(clips: list[Path]) -> tuple[set[str], set[str]]:
    """Speakers whose clips may train the verifier, and speakers kept for evaluation only.

    Every other speaker (sorted by id) is held out; the speakers who say a trigger word stay in training, so
    the held-out false-alarm clips come from voices the network never heard.
    """
    trigger_speakers = {speaker_of(p) for p in clips if p.parent.name in TRIGGERS}
    others = sorted({speaker_of(p) for p in clips} - trigger_speakers)
    held_out = set(others[1::2])
    return {speaker_of(p) for p in clips} - held_out, held_out


def speech_command_clips(fixtures: Path) -> list[Path]:
    return sorted((fixtures / "audio" / "speech_commands").glob("*/*.wav"))


def raised_suffix(args: argparse.Namespace) -> str:
    """What --raise-voices adds to the names of cached windows and models ("" when off, as before it existed)."""
    return f"_raised{args.raise_voices:g}" if args.raise_voices else ""


def synthetic_dataset(args: argparse.Namespace, spec: VerifierSpec) -> Windows:
    """Windows from the training voices (cached on disk: synthesis and the search take minutes)."""
    name = f"synthetic_{args.seed}_{args.per_word}_{args.sentences}_{spec.frames}{raised_suffix(args)}.npz"
    cache = args.cache / name
    if cache.exists():
        with np.load(cache, allow_pickle=False) as z:
            return Windows(z["x"], z["y"], z["speaker"])
    t0 = time.perf_counter()
    rng = np.random.default_rng(args.seed)
    noises = load_noises(args.fixtures / "audio" / "noise", TRAIN_NOISES)
    synth = synthetic_windows(rng, args.per_word, args.sentences, noises, kws_stage(), spec, args.raise_voices)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, x=synth.x, y=synth.y, speaker=synth.speaker)
    log.info("synthetic windows: %d in %.0f s", len(synth.y), time.perf_counter() - t0)
    return synth


def recorded_dataset(args: argparse.Namespace, spec: VerifierSpec, exclude: frozenset[str] = frozenset()
                     ) -> Windows:
    """The training speakers' speech commands clips (trigger words oversampled), minus `exclude`d speakers."""
    rng = np.random.default_rng(args.seed + 1)
    noises = load_noises(args.fixtures / "audio" / "noise", TRAIN_NOISES)
    clips = speech_command_clips(args.fixtures)
    train_speakers, _ = split_speakers(clips)
    use = [p for p in clips if speaker_of(p) in train_speakers - exclude]
    positives = [p for p in use if p.parent.name in TRIGGERS]
    negatives = [p for p in use if p.parent.name not in TRIGGERS]
    kws = kws_stage()
    real = Windows.join([clip_windows(positives, rng, 40, noises, kws, spec),
                         clip_windows(negatives, rng, 3, noises, kws, spec)])
    log.info("recorded clips: %d triggers, %d other words, %d windows", len(positives), len(negatives), len(real.y))
    return real


def mined_windows(model_dir: Path, args: argparse.Namespace, spec: VerifierSpec, seed: int) -> Windows:
    """Hard negatives: windows of ordinary prose (training voices) that the model in `model_dir` scores
    highest for some trigger: what it confuses, to learn from next (bootstrapping)."""
    from avatar.voice.audio import RATE, chunks
    from avatar.voice.config import VoiceConfig
    from avatar.voice.corpus import prose_sentences, random_voice
    from avatar.voice.spotter import KeywordSpotter, phrase_settings
    from avatar.voice.train import place, speak_maybe_raised
    from avatar.voice.verifier import OTHER, load_verifier, window_features

    rng, lift = np.random.default_rng(seed), np.random.default_rng([seed, 1])
    noises = load_noises(args.fixtures / "audio" / "noise", TRAIN_NOISES)
    verifier = load_verifier(model_dir)
    spotter = KeywordSpotter(phrase_settings(VoiceConfig(), None, verifier), verifier)
    xs, heard = [], 0.0
    while heard < args.mine_minutes * 60:
        u = speak_maybe_raised(" ".join(prose_sentences(rng, 3)), random_voice(rng, held_out=False),
                               args.raise_voices, lift, timed=False)
        if u is None:
            continue
        x, _ = place(u.pcm, rng, noises)
        spotter.reset()
        for chunk in chunks(x, RATE, 0.02):
            if any(sc.score >= args.mine_floor for sc in spotter.score(chunk)):
                xs.append(window_features(spotter.recent_audio, spec))
        heard += len(u.pcm) / RATE
    log.info("mined %d confusable windows in %.0f min of prose", len(xs), heard / 60)
    y = np.full(len(xs), spec.classes.index(OTHER), np.int64)
    x_all = np.stack(xs).astype(np.float16) if xs else np.zeros((0, spec.frames, spec.mel.n_mels), np.float16)
    return Windows(x_all, y, np.array(["synthetic"] * len(xs)))


def fine_tune(base: dict, synth: Windows, real: Windows, spec: VerifierSpec, epochs: int, seed: int,
              synth_fraction: float = 0.35, colours: NoiseColours | None = None) -> dict[str, np.ndarray]:
    """Continue from the synthetic-only network on the recordings plus a random share of the synthetic set
    (`colours`: steady noises of random colour in a share of each batch, see `coloured_noise`)."""
    rng = np.random.default_rng(seed)
    keep = rng.random(len(synth.y)) < synth_fraction
    return fit(Windows.join([synth.select(keep), real]), spec, epochs, seed, init=base, lr=1e-3, colours=colours)


def soup(models: list[dict[str, Any]], spec: VerifierSpec) -> dict[str, Any]:
    """One network whose weights are the mean of several fine-tunings of the same base (a "model soup").

    Runs at the cost of one. Measured here, it scored a voice none of its parts heard between theirs (less
    left to the seed), but it was also less sure of ordinary speech (benchmarks/results/voice_soup3.md)."""
    import torch

    if len(models) == 1:
        return models[0]
    states = [m["_torch"] for m in models]
    net = build_net(spec)
    net.load_state_dict({k: torch.tensor(np.mean([s[k] for s in states], axis=0).astype(states[0][k].dtype))
                         for k in states[0]})
    return export(net, spec)


def build_net(spec: VerifierSpec):
    import torch
    from torch import nn

    class Net(nn.Module):
        """3×3 conv → BN → ReLU (→ 2×2 max-pool) per layer; mean and max over time and frequency; linear."""

        def __init__(self) -> None:
            super().__init__()
            layers, c_in = [], 1
            for out, pool in zip(spec.channels, spec.pools, strict=True):
                layers += [nn.Conv2d(c_in, out, 3, padding=1), nn.BatchNorm2d(out), nn.ReLU()]
                layers += [nn.MaxPool2d(2)] if pool else []
                c_in = out
            self.body = nn.Sequential(*layers)
            self.head = nn.Linear(2 * c_in, len(spec.classes))

        def forward(self, x):  # (B, T, F)
            z = self.body(x[:, None] * spec.input_scale)  # (B, C, T', F')
            return self.head(torch.cat([z.mean((2, 3)), z.amax((2, 3))], 1))

    return Net()


_NATS_PER_DB = 0.1 * 2.302585  # a power ratio of 1 dB in natural-log units


@dataclass(frozen=True)
class NoiseColours:
    """`coloured_noise` during training: the share of each batch it reaches and its loudest level (dB)."""

    share: float = 0.0  # 0: off, and nothing is drawn for it
    loudest_db: float = 5.0


def coloured_noise(xb, gen, share: float, loudest_db: float = NoiseColours.loudest_db):
    """A `share` of the windows with a steady noise of random colour added in the log-mel domain.

    The training audio has three noise recordings mixed in; a room's fan, hum or traffic has other colours. The
    windows are log-mel with each band's mean removed, so a noise is a spectral shape (a random tilt and one
    broad peak) at a level of -20..`loudest_db` dB against the band's mean log power, its power wobbling from frame to
    frame; log(speech + noise) is taken per band and the mean removed again, as `normalise` does live.
    """
    import torch

    b, t, f = xb.shape
    fi = torch.arange(f, dtype=xb.dtype)[None, None, :] / f - 0.5
    pick = torch.rand(b, 1, 1, generator=gen) < share
    slope = 3.0 * torch.randn(b, 1, 1, generator=gen)  # nats from the lowest band to the highest
    centre = torch.rand(b, 1, 1, generator=gen) - 0.5
    width = 0.05 + 0.25 * torch.rand(b, 1, 1, generator=gen)
    peak = 2.0 * torch.randn(b, 1, 1, generator=gen).abs() * torch.exp(-0.5 * ((fi - centre) / width) ** 2)
    shape = slope * fi + peak
    low, high = -20.0 * _NATS_PER_DB, loudest_db * _NATS_PER_DB
    level = low + (high - low) * torch.rand(b, 1, 1, generator=gen)
    noise = shape - shape.mean(dim=2, keepdim=True) + level + 0.3 * torch.randn(b, t, f, generator=gen)
    mixed = torch.logaddexp(xb, noise)
    return torch.where(pick, mixed - mixed.mean(dim=1, keepdim=True), xb)


def _augment_batch(xb, gen, colours: NoiseColours | None = None):
    """SpecAugment: one frequency band and one time span masked per example, plus a random channel colour
    (and, with `colours`, that share of the batch in a steady noise of random colour first)."""
    import torch

    if colours is not None and colours.share > 0:  # draws nothing when off: the shipped recipe's batches stay
        xb = coloured_noise(xb, gen, colours.share, colours.loudest_db)
    b, t, f = xb.shape
    fpos = torch.randint(0, f, (b, 1, 1), generator=gen)
    fw = torch.randint(0, 6, (b, 1, 1), generator=gen)
    tpos = torch.randint(0, t, (b, 1, 1), generator=gen)
    tw = torch.randint(0, 10, (b, 1, 1), generator=gen)
    fi, ti = torch.arange(f)[None, None, :], torch.arange(t)[None, :, None]
    mask = ((fi >= fpos) & (fi < fpos + fw)) | ((ti >= tpos) & (ti < tpos + tw))
    tilt = torch.randn(b, 1, 1, generator=gen) * 0.03 * (fi - f / 2)
    return xb.masked_fill(mask, 0.0) + tilt


def fit(data: Windows, spec: VerifierSpec, epochs: int, seed: int, init: dict[str, Any] | None = None,
        lr: float = 2e-3, colours: NoiseColours | None = None) -> dict[str, Any]:
    """Train (or fine-tune from `init`) and return the weights in the numpy layout (batch norm folded in)."""
    import torch

    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    net = build_net(spec)
    if init is not None:
        net.load_state_dict({k: torch.tensor(v) for k, v in init["_torch"].items()})
    x, y = torch.tensor(data.x.astype(np.float32)), torch.tensor(data.y)
    counts = np.bincount(data.y, minlength=len(spec.classes)).astype(np.float64)
    weight = torch.tensor((counts.sum() / np.maximum(counts, 1)) ** 0.5, dtype=torch.float32)
    loss_fn = torch.nn.CrossEntropyLoss(weight=weight / weight.mean())
    opt = torch.optim.AdamW(net.parameters(), lr, weight_decay=1e-3)
    steps = epochs * ((len(y) + 127) // 128)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, lr, total_steps=max(1, steps), pct_start=0.15)
    for epoch in range(epochs):
        net.train()
        perm, total, t0 = torch.randperm(len(y), generator=gen), 0.0, time.perf_counter()
        for i in range(0, len(y), 128):
            idx = perm[i : i + 128]
            loss = loss_fn(net(_augment_batch(x[idx], gen, colours)), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
        log.info("epoch %d: loss %.4f (%.0f s)", epoch + 1, total / len(y), time.perf_counter() - t0)
    return export(net, spec)


def export(net, spec: VerifierSpec) -> dict[str, np.ndarray]:
    """Conv + batch norm folded into one conv per layer, as verifier.py runs it; the torch state is kept too."""
    net.eval()
    out: dict[str, np.ndarray] = {}
    convs = [m for m in net.body if m.__class__.__name__ == "Conv2d"]
    norms = [m for m in net.body if m.__class__.__name__ == "BatchNorm2d"]
    for i, (conv, bn) in enumerate(zip(convs, norms, strict=True)):
        scale = (bn.weight / (bn.running_var + bn.eps).sqrt()).detach().numpy()
        w, b = conv.weight.detach().numpy(), conv.bias.detach().numpy()
        out[f"conv{i}.w"] = (w * scale[:, None, None, None]).astype(np.float32)
        out[f"conv{i}.b"] = ((b - bn.running_mean.detach().numpy()) * scale + bn.bias.detach().numpy()).astype(
            np.float32)
    out["head.w"] = net.head.weight.detach().numpy().astype(np.float32)
    out["head.b"] = net.head.bias.detach().numpy().astype(np.float32)
    out["_torch"] = {k: v.detach().numpy().copy() for k, v in net.state_dict().items()}  # type: ignore[assignment]
    return out


def numpy_weights(weights: dict) -> dict[str, np.ndarray]:
    return {k: v for k, v in weights.items() if not k.startswith("_")}


def describe(args: argparse.Namespace, data: Windows, seconds: float) -> dict:
    counts = np.bincount(data.y, minlength=len(TRIGGERS) + 1).tolist()
    return {"training": {"windows_per_class": counts, "per_word": args.per_word, "sentences": args.sentences,
                         "epochs": args.epochs, "tune_epochs": args.tune_epochs, "mining_rounds": args.mining_rounds,
                         "mine_minutes": args.mine_minutes, "seed": args.seed, "soup": args.soup,
                         "raise_voices": args.raise_voices, "noise_colours": args.noise_colours,
                         "noise_colours_loudest_db": args.noise_colours_loudest,
                         "seconds": round(seconds),
                         "speakers": sorted(set(data.speaker.tolist()) - {"synthetic"}),
                         "data": "espeak-ng and flite training voices (see avatar/voice/corpus.py), speech "
                                 "commands clips of the training speakers (CC-BY-4.0, Warden 2017)"}}
