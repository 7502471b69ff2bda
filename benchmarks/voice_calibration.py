"""What `emotebot calibrate --voice` does for voices the verifier finds hard: detections and false alarms before
and after, per voice.

    nice -n 10 .venv/bin/python benchmarks/voice_calibration.py [--voices flite:slt flite:kal espeak:en-029+f3]
        [--per-word 8] [--minutes 5] [--seed 11]

For each held-out synthetic voice (none trained the verifier): the calibration a user would do, run through
`avatar.voice.calibrate.tune` (each trigger said alone three times at three speeds, then the calibration's own
ordinary sentence, all at 20 dB SNR of a held-out noise), with the verifier's per-word floors as shipped and
without them; then the voice benchmark's tests in that voice, with the spotter as shipped and with each profile:
each trigger inside held-out carrier sentences (`--per-word` takes, 10–20 dB SNR; each take heard cold, and
heard after the takes before it, as live where pocketsphinx has adapted to the voice), and `--minutes` of everyday
conversation (benchmarks/voice_sentences.txt) for false alarms. And, per voice, a phrase of one's own in place of
the word (`--phrase`, checked by pocketsphinx alone) at its default and other search thresholds (`--phrase-search`).
Writes benchmarks/results/voice_calibration.{json,md}. About 5 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from voice_bench import EVAL_NOISES, HERE, Clip, noisy, score_negatives, score_positives  # noqa: E402 (after the path set-up)

from avatar.voice.audio import RATE  # noqa: E402
from avatar.voice.calibrate import ORDINARY, Take, tune  # noqa: E402
from avatar.voice.config import VoiceConfig  # noqa: E402
from avatar.voice.corpus import CARRIERS_EVAL, TRIGGERS, Voice, load_noises, mix_at_snr, speak  # noqa: E402
from avatar.voice.spotter import KeywordSpotter  # noqa: E402
from avatar.voice.verifier import load_verifier  # noqa: E402

FIXTURES = REPO.parent / "shared" / "fixtures"
SPEEDS = (0.9, 1.0, 1.15)  # the three calibration takes of each word: flite duration stretch (espeak: ÷ into wpm)


def voice_at(name: str, speed: float) -> Voice:
    """`engine:name` speaking `speed`× as slowly as its default."""
    engine, _, voice = name.partition(":")
    if engine == "flite":
        return Voice("flite", voice, speed, 0.0)
    if engine == "espeak":
        return Voice("espeak", voice, 170.0 / speed, 50.0)
    raise SystemExit(f"unknown voice {name!r}: write flite:NAME or espeak:NAME")


def said(text: str, voice: Voice, label: str = "") -> tuple[np.ndarray, float] | None:
    """The speech and where `label` ends in it (0 without one); None when the synthesiser could not time it."""
    u = speak(text, voice, label, timed=bool(label))
    span = u.span(label) if u is not None and label else None
    if u is None or (label and span is None):
        return None
    return u.pcm, span.t_end if span else 0.0


def say(text: str, voice: Voice) -> np.ndarray:
    got = said(text, voice)
    if got is None:
        raise SystemExit(f"{voice} could not say {text!r}")
    return got[0]


def calibration_takes(name: str, rng: np.random.Generator, noise: np.ndarray) -> list[Take]:
    takes = [Take(w, mix_at_snr(say(w, voice_at(name, s)), noise, 20.0, rng)) for w in TRIGGERS for s in SPEEDS]
    return [*takes, Take("", mix_at_snr(say(ORDINARY, voice_at(name, 1.0)), noise, 20.0, rng))]


def tests(name: str, rng: np.random.Generator, noises: list[np.ndarray], per_word: int, minutes: float
          ) -> tuple[list[Clip], list[Clip]]:
    pad = np.zeros(int(0.5 * RATE), np.float32)
    positives = []
    for w in TRIGGERS:
        made = 0
        while made < per_word:
            got = said(str(rng.choice(CARRIERS_EVAL)).replace("{}", w), voice_at(name, rng.uniform(0.85, 1.2)), w)
            if got is None:
                continue
            positives.append(Clip(noisy(np.concatenate([pad, got[0], pad, pad]), rng, noises), w, 0.5 + got[1], name))
            made += 1
    lines = [s for s in (HERE / "voice_sentences.txt").read_text().splitlines() if s and not s.startswith("#")]
    talk, parts, total = [], [], 0.0
    while total < minutes * 60:
        pcm = say(str(rng.choice(lines)), voice_at(name, rng.uniform(0.85, 1.2)))
        parts += [pcm, np.zeros(int(rng.uniform(0.2, 0.9) * RATE), np.float32)]
        total += len(pcm) / RATE
        if total >= minutes * 60 or sum(len(p) for p in parts) > 60 * RATE:
            talk.append(Clip(noisy(np.concatenate(parts), rng, noises), "", 0.0, "conversation"))
            parts = []
    return positives, talk


PHRASE_CARRIERS = ("well {} about that", "{}", "you know {} today", "honestly {}", "and now {} again",
                   "{} this morning")


def phrase_takes(name: str, phrase: str, rng: np.random.Generator, noises: list[np.ndarray], n: int) -> list[Clip]:
    """`phrase` inside sentences in that voice, labelled with the phrase and where its last word ends."""
    pad = np.zeros(int(0.5 * RATE), np.float32)
    out: list[Clip] = []
    while len(out) < n:
        text = str(rng.choice(PHRASE_CARRIERS)).replace("{}", phrase)
        got = said(text, voice_at(name, rng.uniform(0.85, 1.2)), phrase.split()[-1])
        if got is not None:
            out.append(Clip(noisy(np.concatenate([pad, got[0], pad, pad]), rng, noises), phrase, 0.5 + got[1], name))
    return out


def markdown(r: dict) -> str:
    lines = ["# Trigger words: what voice calibration does for hard voices", "",
             f"Made by `python benchmarks/voice_calibration.py` (see its docstring; seed {r['seed']}). Held-out "
             f"synthetic voices; {r['per_word']} takes of each of the six words in sentences per voice, and "
             f"{r['minutes']} minutes of conversation in that voice for false alarms. Thresholds after: what "
             "`calibrate --voice` wrote for happy, sad, surprised, angry, neutral, reset.", "",
             "| voice | spotter | detected in sentences (cold / used to the voice) | false alarms in conversation | "
             "thresholds |",
             "|---|---|---|---|---|"]
    for name, v in r["voices"].items():
        for arm, label, th in (("shipped", "as shipped", None),
                               ("calibrated_without_floor", "calibrated, no floor", v["thresholds_without_floor"]),
                               ("calibrated", "calibrated (shipped: floors)", v["thresholds"])):
            a = v[arm]
            ths = " ".join(f"{th.get(w, float('nan')):.2f}" for w in TRIGGERS) if th else "verifier's own"
            lines.append(f"| {name} | {label} | {a['synthetic']['detected']}/{a['synthetic']['of']} / "
                         f"{a['synthetic_used_to_voice']['detected']} | "
                         f"{a['talk']['false_alarms']} in {a['talk']['minutes']} min | {ths} |")
    if r.get("phrase"):
        lines += ["", f"A phrase of one's own instead, \"{r['phrase']}\" = happy (not a word the verifier knows, so "
                  "pocketsphinx alone decides), in sentences by the same voice, and the same conversation, by the "
                  "phrase's search threshold (`voice.search_thresholds`; \"default\" is what EmoteBot sets for it):",
                  "", "| voice | search threshold | detected in sentences | false alarms in conversation |",
                  "|---|---|---|---|"]
        for name, v in r["voices"].items():
            for e, a in v["phrase"].items():
                lines.append(f"| {name} | {e} | {a['synthetic']['detected']}/{a['synthetic']['of']} | "
                             f"{a['talk']['false_alarms']} in {a['talk']['minutes']} min |")
    lines += ["", "What calibration told each voice (with floors):", ""]
    for name, v in r["voices"].items():
        warn = "; ".join(f"{p}: {n['warning']}" for p, n in v["notes"].items() if n.get("warning")) or "nothing"
        lines.append(f"- {name}: {warn}")
    return "\n".join(lines) + "\n"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--voices", nargs="+", default=["flite:slt", "flite:kal", "espeak:en-029+f3"])
    p.add_argument("--per-word", type=int, default=8)
    p.add_argument("--minutes", type=float, default=5.0)
    p.add_argument("--seed", type=int, default=11)
    p.add_argument("--phrase", default="i am so happy", help="a phrase of one's own, tried instead of the word")
    p.add_argument("--phrase-search", type=float, nargs="*", default=[-35.0, -25.0, -15.0],
                   help="pocketsphinx search thresholds tried for the phrase, besides its default")
    args = p.parse_args()
    noises = load_noises(FIXTURES / "audio" / "noise", EVAL_NOISES)
    verifier = load_verifier()
    config = VoiceConfig()
    report: dict = {"seed": args.seed, "per_word": args.per_word, "minutes": args.minutes, "phrase": args.phrase,
                    "voices": {}}
    for name in args.voices:
        t0 = time.perf_counter()
        rng = np.random.default_rng(args.seed)
        takes = calibration_takes(name, rng, noises[0])
        profile = tune(takes, config, verifier)
        unfloored = copy.copy(verifier)
        unfloored.floors = {}
        loose = tune(takes, config, unfloored)
        positives, talk = tests(name, rng, noises, args.per_word, args.minutes)
        row: dict = {"thresholds": profile.thresholds, "notes": profile.notes.get("phrases", {}),
                     "thresholds_without_floor": loose.thresholds}
        for label, prof in (("shipped", None), ("calibrated_without_floor", loose), ("calibrated", profile)):
            spotter = KeywordSpotter.from_config(config, prof, verifier)
            row[label] = {"synthetic": score_positives(spotter, positives), "talk": score_negatives(spotter, talk),
                          "synthetic_used_to_voice": score_positives(spotter, positives, keep_voice=True)}
        if args.phrase:
            said_phrase = phrase_takes(name, args.phrase, np.random.default_rng([args.seed, 2]), noises,
                                       3 * args.per_word)
            row["phrase"] = {}
            for e in [None, *args.phrase_search]:
                own = VoiceConfig(vocabulary=(f"{args.phrase}=happy",),
                                  search_thresholds=() if e is None else (f"{args.phrase}={e:g}",))
                spotter = KeywordSpotter.from_config(own, None, verifier)
                row["phrase"]["default" if e is None else f"{e:g}"] = {
                    "synthetic": score_positives(spotter, said_phrase), "talk": score_negatives(spotter, talk)}
        row["seconds"] = round(time.perf_counter() - t0)
        report["voices"][name] = row
        print(name, json.dumps(row), flush=True)
    out = REPO / "benchmarks" / "results"
    (out / "voice_calibration.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "voice_calibration.md").write_text(markdown(report))
    print(markdown(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
