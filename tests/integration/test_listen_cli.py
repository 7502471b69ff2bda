"""`emotebot listen --file` and `emotebot calibrate --voice --takes` on synthesised speech, end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest

from avatar.cli import main
from avatar.voice.audio import write_wav
from avatar.voice.calibrate import choose_threshold
from avatar.voice.profile import load_profile
from avatar.voice.synth import say_espeak, say_flite
from tests.conftest import require_tool


def test_listen_to_a_wav_file_writes_one_json_line_per_trigger(tmp_path):
    require_tool("espeak-ng")
    a = say_espeak("I feel happy today", "en-us", rate=160)
    b = say_espeak("and now I am sad", "en-us", rate=160)
    gap = np.zeros(a.sr // 2, np.float32)
    wav, out = tmp_path / "talk.wav", tmp_path / "heard.jsonl"
    write_wav(wav, np.concatenate([gap, a.pcm, gap, gap, b.pcm, gap, gap]), a.sr)
    assert main(["listen", "--file", str(wav), "--out", str(out)]) == 0
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["word"] for line in lines] == ["happy", "sad"]
    for line in lines:
        assert set(line) == {"word", "t_start", "t_end", "t_emit", "score"}
        assert line["t_start"] < line["t_end"] <= line["t_emit"] < line["t_end"] + 0.3
    happy = a.find("happy")
    assert 0.5 + happy.t_start < lines[0]["t_end"] < 0.5 + happy.t_end + 0.15  # seconds into the file


def test_listen_names_what_is_wrong_with_the_file(tmp_path, capsys):
    bad = tmp_path / "x.wav"
    bad.write_text("not audio")
    assert main(["listen", "--file", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "x.wav" in err and "WAV" in err and "Traceback" not in err


def test_thresholds_sit_between_ordinary_speech_and_the_weakest_take():
    t, note = choose_threshold([0.999, 0.998, 1.0], [0.1, 0.3], default=0.95)
    assert t == pytest.approx(0.95) and not note  # the default already separates them: never raised
    t, note = choose_threshold([0.9, 0.95], [0.01], default=0.95)
    assert t == pytest.approx(0.768, abs=1e-3) and not note  # lowered for a user whose takes score lower
    t, note = choose_threshold([0.9, 0.95], [0.3], default=0.95)
    assert t == pytest.approx(0.768, abs=1e-3)  # ordinary speech at 0.3 still sits below that
    t, note = choose_threshold([0.3], [0.6], default=0.95)
    assert t == pytest.approx(0.803, abs=1e-3) and "overlap" in note  # false alarms are worse than a retry


def test_calibration_never_goes_under_the_verifiers_floor_for_a_word():
    t, note = choose_threshold([0.3, 0.4], [0.01], default=0.95, floor=0.9)
    assert t == pytest.approx(0.9) and "0.30" in note and "0.90" in note  # not 0.14: says why
    assert choose_threshold([0.3, 0.4], [0.01], default=0.95)[0] < 0.2  # without one it would go that low
    t, note = choose_threshold([0.8, 0.9], [0.01], default=0.95, floor=0.7)
    assert t == pytest.approx(0.7) and not note  # clamped under a take that still passes: nothing to say
    t, note = choose_threshold([0.97, 0.99], [0.01], default=0.95, floor=0.9)
    assert t == pytest.approx(0.922, abs=1e-3) and not note  # above the floor the rule is as before
    t, _ = choose_threshold([0.3], [0.01], default=0.8, floor=0.9)
    assert t == pytest.approx(0.8)  # nor lifts a threshold the user set lower than the floor


def test_calibrate_voice_from_recorded_takes_writes_a_profile_run_can_use(tmp_path):
    require_tool("espeak-ng")
    require_tool("flite")
    takes = tmp_path / "takes"
    takes.mkdir()
    for i, rate in enumerate((140, 170, 200)):
        for word in ("happy", "sad"):
            s = say_espeak(word, "en-us+m3", rate=rate)
            write_wav(takes / f"{word}_{i + 1}.wav", s.pcm, s.sr)
    s = say_flite("we walked to the station and talked about the weather and dinner", "kal16")
    write_wav(takes / "ordinary.wav", s.pcm, s.sr)
    vocab = "voice.vocabulary=happy=happy,sad=sad"
    assert main(["calibrate", "--voice", "--takes", str(takes), "--profile", "tester", "--calibration-dir",
                 str(tmp_path), "--set", vocab]) == 0
    profile = load_profile(tmp_path / "tester.voice.json")
    assert set(profile.thresholds) == {"happy", "sad"}
    assert all(0.05 <= v <= 0.95 for v in profile.thresholds.values())
    assert len(profile.notes["phrases"]["happy"]["takes"]) == 3
    out = tmp_path / "heard.jsonl"
    wav = tmp_path / "say.wav"
    s = say_espeak("I am so happy", "en-us+m3", rate=170)
    write_wav(wav, np.concatenate([np.zeros(8000, np.float32), s.pcm, np.zeros(16000, np.float32)]), s.sr)
    assert main(["listen", "--file", str(wav), "--out", str(out), "--profile", "tester", "--calibration-dir",
                 str(tmp_path), "--set", vocab]) == 0
    assert [json.loads(line)["word"] for line in out.read_text().splitlines()] == ["happy"]
