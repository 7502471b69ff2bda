"""User-facing errors: each says what is wrong and what to do about it."""

from __future__ import annotations


class EmoteBotError(Exception):
    """An error the CLI prints as one clear message (no traceback) and exits non-zero."""

    exit_code = 2


class ConfigError(EmoteBotError):
    """A configuration file or flag holds a value that is not allowed."""


class SourceError(EmoteBotError):
    """A camera, video or image source could not be opened or read."""


class SinkError(EmoteBotError):
    """An output (virtual camera, window, file, stream) could not be opened or written."""


class RigError(EmoteBotError):
    """A rig code names unknown fields or holds values that cannot be used."""


class ModelError(EmoteBotError):
    """A model file is missing, corrupt or does not match this version of EmoteBot."""
