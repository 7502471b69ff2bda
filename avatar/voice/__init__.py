"""voice stage of the EmoteBot pipeline."""
