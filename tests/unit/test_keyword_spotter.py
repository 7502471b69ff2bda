"""The keyword spotter fed synthesised speech and recorded clips (no microphone), and its verifier network."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from avatar.errors import ConfigError, ModelError
from avatar.expression.rig import Expression
from avatar.voice.audio import RATE, chunks, read_wav, resample
from avatar.voice.config import VoiceConfig
from avatar.voice.kws import KwsConfig, KwsPhrase, KwsStage
from avatar.voice.profile import VoiceProfile
from avatar.voice.spotter import DEFAULT_THRESHOLD, KeywordSpotter, phrase_settings
from avatar.voice.synth import say_espeak
from avatar.voice.verifier import MODEL_DIR, Verifier, load_verifier
from tests.conftest import require_tool


@pytest.fixture(scope="module")
def spotter() -> KeywordSpotter:
    return KeywordSpotter.from_config(VoiceConfig())


def spot(spotter: KeywordSpotter, pcm: np.ndarray, sr: int):
    spotter.reset()
    x = resample(np.concatenate([np.zeros(sr // 2, np.float32), pcm, np.zeros(sr, np.float32)]), sr)
    return [d for c in chunks(x, RATE, 0.02) for d in spotter.process(c)]


@pytest.mark.parametrize(("text", "word", "voice"), [
    ("I feel happy today", "happy", "en-us"),
    ("that was a surprised look", "surprised", "en-gb-x-rp"),
    ("now he is angry again", "angry", "en-us+m3"),
])
def test_a_trigger_inside_a_sentence_is_found_once_where_it_was_said(spotter, text, word, voice):
    require_tool("espeak-ng")
    speech = say_espeak(text, voice, rate=160)
    found = spot(spotter, speech.pcm, speech.sr)
    assert [d.phrase for d in found] == [word]
    said = speech.find(word)
    # pocketsphinx ends a keyphrase when its last phone is reached, which can be before that phone is over
    # ("happy" fires on the "p"): the detection lies within the word, never on its neighbours
    assert 0.5 + said.t_start < found[0].t_end < 0.5 + said.t_end + 0.15
    assert 0.0 <= found[0].t_emit - found[0].t_end < 0.3  # reported within 300 ms of the word's end
    assert found[0].expression is Expression(word)


def test_ordinary_sentences_trigger_nothing(spotter):
    require_tool("espeak-ng")
    for text in ("we went to the station and bought some bread for lunch",
                 "what happened to the parcel that was supposed to arrive on monday"):
        speech = say_espeak(text, "en-us+f2", rate=170)
        assert spot(spotter, speech.pcm, speech.sr) == []


def test_recorded_happy_clips_are_heard(spotter, fixtures):
    # The shipped verifier trained on these clips (the benchmark scores them with models that did not).
    clips = sorted((fixtures / "audio" / "speech_commands" / "happy").glob("*.wav"))
    heard = [any(d.phrase == "happy" for d in spot(spotter, *read_wav(p))) for p in clips]
    assert sum(heard) == len(clips)


def test_a_reset_spotter_hears_a_clip_as_a_fresh_one_does(fixtures):
    # reset() starts a new stream: what the last one taught pocketsphinx (cepstral mean, front-end state) is gone,
    # so a clip scores the same after other speakers' clips as in a spotter that never heard anything
    clips = sorted((fixtures / "audio" / "speech_commands" / "happy").glob("*.wav"))[:3]

    def candidates(sp: KeywordSpotter, path) -> list:
        sp.reset()
        x = resample(*read_wav(path))
        return [(s.candidate.phrase, s.candidate.t_end, round(s.score, 4)) for c in chunks(x, RATE, 0.02)
                for s in sp.score(c)]

    used = KeywordSpotter.from_config(VoiceConfig())
    for before in clips[:-1]:
        candidates(used, before)
    last = clips[-1]
    assert candidates(used, last) == candidates(KeywordSpotter.from_config(VoiceConfig()), last)


def test_words_the_dictionary_lacks_need_a_pronunciation():
    stage = KwsStage([KwsPhrase("emotebot", -30)], KwsConfig(), {"emotebot": "IY M OW T B AA T"})
    assert stage.process(np.zeros(1600, np.float32)) == []
    with pytest.raises(ConfigError, match="unknown phone"):
        KwsStage([KwsPhrase("emotebot", -30)], KwsConfig(), {"emotebot": "IY M QQ T"})


def test_verifier_numpy_forward_matches_torch():
    torch = pytest.importorskip("torch")
    from avatar.voice.train import SPEC
    from avatar.voice.trainnet import build_net, export, numpy_weights

    torch.manual_seed(0)
    net = build_net(SPEC)
    for m in net.modules():  # non-trivial batch-norm statistics, so the folding is really tested
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    net.eval()
    x = np.random.default_rng(0).normal(0, 2, (SPEC.frames, SPEC.mel.n_mels)).astype(np.float32)
    with torch.no_grad():
        ref = torch.softmax(net(torch.tensor(x)[None]), 1).numpy()[0]
    ours = Verifier(SPEC, numpy_weights(export(net, SPEC))).probabilities(x)
    assert np.allclose(ours, ref, atol=1e-5)


def test_a_soup_is_the_mean_of_its_networks_weights_and_runs_as_one():
    torch = pytest.importorskip("torch")
    from avatar.voice.train import SPEC
    from avatar.voice.trainnet import build_net, export, numpy_weights, soup

    models = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        models.append(export(build_net(SPEC), SPEC))
    mixed = soup(models, SPEC)
    for k, v in mixed["_torch"].items():
        if v.dtype.kind == "f":
            assert np.allclose(v, (models[0]["_torch"][k] + models[1]["_torch"][k]) / 2, atol=1e-6), k
    assert soup(models[:1], SPEC) is models[0]
    x = np.random.default_rng(0).normal(0, 2, (SPEC.frames, SPEC.mel.n_mels)).astype(np.float32)
    p = Verifier(SPEC, numpy_weights(mixed)).probabilities(x)
    assert p.shape == (len(SPEC.classes),) and abs(p.sum() - 1) < 1e-5
    assert not np.allclose(p, Verifier(SPEC, numpy_weights(models[0])).probabilities(x))


def test_a_corrupt_verifier_file_is_refused(tmp_path):
    for name in ("verifier.json", "verifier.npz"):
        (tmp_path / name).write_bytes((MODEL_DIR / name).read_bytes())
    meta = json.loads((tmp_path / "verifier.json").read_text())
    meta["sha256"] = "0" * 64
    (tmp_path / "verifier.json").write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="sha256"):
        load_verifier(tmp_path)
    assert load_verifier(MODEL_DIR).knows("happy")


def _shipped_verifier_with(folder, **meta_changes):
    """A copy of the shipped verifier in `folder` with these keys of its JSON replaced."""
    for name in ("verifier.json", "verifier.npz"):
        (folder / name).write_bytes((MODEL_DIR / name).read_bytes())
    meta = json.loads((folder / "verifier.json").read_text())
    (folder / "verifier.json").write_text(json.dumps({**meta, **meta_changes}))


def test_a_verifier_with_broken_thresholds_is_refused(tmp_path):
    _shipped_verifier_with(tmp_path, thresholds={"happy": 1.5})
    with pytest.raises(ModelError, match="thresholds"):
        load_verifier(tmp_path)


def test_a_verifier_with_broken_floors_is_refused_and_the_shipped_floors_sit_under_its_thresholds(tmp_path):
    _shipped_verifier_with(tmp_path, floors={"happy": 0.0})
    with pytest.raises(ModelError, match="floors"):
        load_verifier(tmp_path)
    shipped = load_verifier()
    assert set(shipped.floors) == set(shipped.thresholds)
    assert all(0.0 < shipped.floors[w] <= shipped.thresholds[w] for w in shipped.floors)


def test_thresholds_come_from_config_then_profile_then_one_threshold_then_the_verifier():
    verifier = load_verifier()
    assert verifier.thresholds, "the shipped verifier carries per-word thresholds chosen on validation speech"
    word = next(iter(verifier.thresholds))

    def chosen(config: VoiceConfig, profile: VoiceProfile | None = None) -> float:
        return {s.trigger.phrase: s.threshold for s in phrase_settings(config, profile, verifier)}[word]

    assert chosen(VoiceConfig()) == verifier.thresholds[word]
    assert chosen(VoiceConfig(threshold=0.5)) == 0.5  # one threshold for all words overrides the verifier's
    assert chosen(VoiceConfig(threshold=0.5), VoiceProfile({word: 0.6})) == 0.6  # the user's voice beats both
    assert chosen(VoiceConfig(threshold=0.5, thresholds=(f"{word}=0.7",)), VoiceProfile({word: 0.6})) == 0.7
    bare = Verifier(verifier.spec, {k: v for k, v in np.load(MODEL_DIR / "verifier.npz").items()})
    assert {s.threshold for s in phrase_settings(VoiceConfig(), None, bare)} == {DEFAULT_THRESHOLD}


def test_scoring_once_and_deciding_later_reports_what_process_does(spotter):
    # the benchmark scores validation speech once and replays decide() under other thresholds
    require_tool("espeak-ng")
    speech = say_espeak("I feel happy today, but that was a surprised look", "en-us", rate=160)
    x = resample(np.concatenate([np.zeros(speech.sr // 2, np.float32), speech.pcm, np.zeros(speech.sr, np.float32)]),
                 speech.sr)
    blocks = list(chunks(x, RATE, 0.02))
    spotter.reset()
    live = [d for c in blocks for d in spotter.process(c)]
    spotter.reset()
    scored = [(spotter.score(c), c.t_end) for c in blocks]
    spotter.reset()
    replayed = [d for s, t in scored for d in spotter.decide(s, t)]
    assert [d.phrase for d in live] == ["happy", "surprised"]
    assert replayed == live
    spotter.reset()
    none_pass = [[replace(sc, passed=False) for sc in s] for s, _ in scored]
    assert [d for s, (_, t) in zip(none_pass, scored, strict=True) for d in spotter.decide(s, t)] == []


def test_the_log_says_what_score_each_phrase_needs():
    verifier = load_verifier()
    spotter = KeywordSpotter.from_config(VoiceConfig(vocabulary=("happy=happy", "oh no=sad")), None, verifier)
    assert spotter.describe() == f"happy ({verifier.thresholds['happy']:.2f}), oh no (pocketsphinx only)"
