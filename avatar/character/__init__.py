"""character stage of the EmoteBot pipeline."""
