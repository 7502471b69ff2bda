"""The recorded "happy" clips and other-word clips in noise: how much of the benchmark's real-speech margin is left
when the room is loud.

    .venv/bin/python benchmarks/voice_real_noise.py [--snr 20 15 10] [--seed 3]

The voice benchmark hears the five recorded "happy" clips as recorded. Here each is mixed with each held-out
noise recording (the verifier trained with others) at each SNR, and heard cold and used to the voice (pocketsphinx
first hears that speaker's other recordings, in the same noise), each scored by the verifier trained without its
speaker, at the per-word thresholds in its JSON (`--model`: a verifier other than the shipped one). The 62
other-word clips of held-out speakers get the same noise for false alarms. Writes
benchmarks/results/voice_real_noise.{json,md} (or `--out`). About 5 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from voice_bench import EVAL_NOISES, HERE, real_happy, recorded, score_negatives  # noqa: E402 (after the path set-up)

from avatar.voice.config import VoiceConfig  # noqa: E402
from avatar.voice.corpus import load_noises, mix_at_snr  # noqa: E402
from avatar.voice.spotter import KeywordSpotter, phrase_settings  # noqa: E402
from avatar.voice.verifier import MODEL_DIR, load_verifier  # noqa: E402

FIXTURES = REPO.parent / "shared" / "fixtures"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--fixtures", type=Path, default=FIXTURES)
    p.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "emotebot" / "voice")
    p.add_argument("--snr", type=float, nargs="+", default=[20.0, 15.0, 10.0])
    p.add_argument("--seed", type=int, default=3)
    p.add_argument("--model", type=Path, default=MODEL_DIR,
                   help="the verifier to score (its folds in --cache/models/without_*)")
    p.add_argument("--out", type=Path, default=HERE / "results" / "voice_real_noise",
                   help="where the .json and .md go (without suffix)")
    args = p.parse_args()
    rng = np.random.default_rng(args.seed)
    noises = load_noises(args.fixtures / "audio" / "noise", EVAL_NOISES)
    happy, others_held, _, _, voices = recorded(args.fixtures)
    folds = {q.name.removeprefix("without_"): load_verifier(q)
             for q in sorted((args.cache / "models").glob("without_*"))}
    if len(folds) < len(happy):
        raise SystemExit("no models without each speaker: run python -m avatar.voice.train --folds")
    verifier = load_verifier(args.model)
    spotter = KeywordSpotter(phrase_settings(VoiceConfig(), None, verifier), verifier)
    rows: list[dict[str, Any]] = [{"snr_db": None, "real_happy_cold": real_happy(spotter, folds, happy),
             "real_happy_used_to_voice": real_happy(spotter, folds, happy, voices),
             "other_words": score_negatives(spotter, others_held)}]
    print(rows[-1], flush=True)
    for snr in args.snr:
        cold = warm = 0
        per_clip: dict[str, int] = {}
        for noise in noises:
            mixed = [dataclasses.replace(c, pcm=mix_at_snr(c.pcm, noise, snr, rng)) for c in happy]
            loud = {tag: mix_at_snr(v, noise, snr, rng) for tag, v in voices.items()}
            a, b = real_happy(spotter, folds, mixed), real_happy(spotter, folds, mixed, loud)
            cold, warm = cold + a["detected"], warm + b["detected"]
            for tag, hit in a["per_clip"].items():
                per_clip[tag] = per_clip.get(tag, 0) + int(hit)
        negatives = [dataclasses.replace(c, pcm=mix_at_snr(c.pcm, noises[int(rng.integers(len(noises)))], snr, rng))
                     for c in others_held]
        rows.append({"snr_db": snr, "trials": len(happy) * len(noises), "cold": cold, "used_to_voice": warm,
                     "cold_per_speaker": per_clip, "other_words": score_negatives(spotter, negatives)})
        print(rows[-1], flush=True)
    report = {"model": str(args.model), "noises": list(EVAL_NOISES), "seed": args.seed, "thresholds": {
        w: s.threshold for w, s in spotter.settings.items()}, "rows": rows}
    out = args.out
    out.with_suffix(".json").write_text(json.dumps(report, indent=1) + "\n")
    out.with_suffix(".md").write_text(markdown(report))
    print(markdown(report))
    return 0


def markdown(r: dict) -> str:
    clean = r["rows"][0]
    model = "the shipped verifier" if r.get("model") in (None, str(MODEL_DIR)) else f"`{r['model']}`"
    lines = ["# Recorded \"happy\" and other words in noise", "",
             "Made by `python benchmarks/voice_real_noise.py`. Each of the five recorded \"happy\" clips mixed with "
             f"each held-out noise ({', '.join(r['noises'])}) at each SNR, scored by the verifier trained without "
             f"its speaker, at the per-word thresholds of {model}; cold, and used to the voice (pocketsphinx first "
             "hears that speaker's other recordings in the same noise). Other words: the 62 clips of held-out "
             "speakers, each with one of the noises.", "",
             "| SNR | real \"happy\" cold | used to the voice | other-word false alarms (clips with one) |",
             "|---|---|---|---|",
             f"| as recorded | {clean['real_happy_cold']['detected']}/5 | "
             f"{clean['real_happy_used_to_voice']['detected']}/5 | {clean['other_words']['false_alarms']} "
             f"({clean['other_words']['clips_with_alarm']}) |"]
    for row in r["rows"][1:]:
        neg = row["other_words"]
        lines.append(f"| {row['snr_db']:.0f} dB | {row['cold']}/{row['trials']} | {row['used_to_voice']}/"
                     f"{row['trials']} | {neg['false_alarms']} ({neg['clips_with_alarm']}) |")
    lines += ["", "Cold detections per speaker (of the noises × SNRs): " + ", ".join(
        f"{tag} {sum(row['cold_per_speaker'].get(tag, 0) for row in r['rows'][1:])}"
        for tag in r["rows"][1]["cold_per_speaker"]) if len(r["rows"]) > 1 else ""]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
