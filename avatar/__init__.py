"""EmoteBot: a webcam-driven animated robot avatar for calls and streams."""

__version__ = "0.1.0"
