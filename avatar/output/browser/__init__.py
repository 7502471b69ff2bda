"""OBS browser source and control page: EmoteBot with alpha, served on 127.0.0.1 (`--sink browser[:PORT]`)."""

from __future__ import annotations

from avatar.output.browser.frames import EncodedFrame, FrameStore, encode_frame
from avatar.output.browser.server import ACTIONS, PAGES, Controls
from avatar.output.browser.sink import DEFAULT_PORT, BrowserSink, parse_port
from avatar.output.browser.words import SYNONYMS, word_action

__all__ = [
    "ACTIONS",
    "DEFAULT_PORT",
    "PAGES",
    "SYNONYMS",
    "BrowserSink",
    "Controls",
    "EncodedFrame",
    "FrameStore",
    "encode_frame",
    "parse_port",
    "word_action",
]
