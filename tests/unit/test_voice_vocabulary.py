"""Vocabulary from the [voice] config, the one word → expression lookup, typed triggers, pronunciations."""

from __future__ import annotations

import io

import pytest

from avatar.config import AppConfig
from avatar.errors import ConfigError
from avatar.expression.events import TriggerSource
from avatar.expression.rig import Expression
from avatar.voice.config import VoiceConfig
from avatar.voice.live import TypedTriggers
from avatar.voice.pronounce import check_phones, pronounce
from avatar.voice.vocabulary import event_for, parse_vocabulary, resolve


def test_defaults_and_expression_names_resolve_and_other_words_do_not():
    assert resolve("happy") is Expression.HAPPY
    assert resolve("  Reset! ") is Expression.NEUTRAL
    assert resolve("ANGRY") is Expression.ANGRY
    assert resolve("pizza") is None and resolve("") is None


def test_config_vocabulary_with_phrases_holds_and_thresholds():
    config = AppConfig().override("voice", vocabulary="so happy=happy,calm down=neutral,boo=sad",
                                  hold="boo=2.5", thresholds="so happy=0.7").voice
    vocab = parse_vocabulary(config)
    assert resolve("So happy", vocab) is Expression.HAPPY and resolve("calm  down", vocab) is Expression.NEUTRAL
    assert vocab.lookup("so happy").threshold == 0.7 and vocab.lookup("boo").hold_s == 2.5
    ev = event_for("boo", 3.0, TriggerSource.TYPED, vocab)
    assert ev.expression is Expression.SAD and ev.hold_s == 2.5 and ev.t == 3.0 and ev.word == "boo"


@pytest.mark.parametrize(("field", "value", "message"), [
    ("vocabulary", ("happy=joyful",), "joyful"),
    ("hold", ("sad=-1",), "hold"),
    ("thresholds", ("nope=0.5",), "not in voice.vocabulary"),
    ("thresholds", ("happy=2",), r"0\.0\.\.1\.0"),
    ("vocabulary", ("=happy",), "PHRASE=VALUE"),
])
def test_mistakes_name_the_setting_and_the_phrase(field, value, message):
    with pytest.raises(ConfigError, match=message):
        parse_vocabulary(VoiceConfig(**{field: value}))


def test_typed_lines_become_the_same_events_and_actions():
    sent, actions = [], []
    typed = TypedTriggers(parse_vocabulary(VoiceConfig()), sent.append, actions.append, clock=lambda: 5.0)
    typed.run(io.StringIO("happy\n\nnonsense\nreset\ncalibrate\nquit\n"))
    assert [(e.expression, e.source, e.t) for e in sent] == [
        (Expression.HAPPY, TriggerSource.TYPED, 5.0), (Expression.NEUTRAL, TriggerSource.TYPED, 5.0)]
    assert actions == ["calibrate", "quit"]


def test_pronunciations_user_first_then_dictionary_then_guess_else_a_clear_error():
    lookup = {"happy": "HH AE P IY"}.get
    assert pronounce("happy", {}, lookup) == ("HH AE P IY", False)
    assert pronounce("happy", {"happy": "hh ae p iy"}, lookup) == ("HH AE P IY", True)
    assert pronounce("zorp", {}, lookup, guess=lambda w: "Z AO R P") == ("Z AO R P", True)
    with pytest.raises(ConfigError, match=r"voice\.pronunciations"):
        pronounce("zorp", {}, lookup, guess=lambda w: None)
    with pytest.raises(ConfigError, match="QQ"):
        check_phones("zorp", "Z QQ P")
