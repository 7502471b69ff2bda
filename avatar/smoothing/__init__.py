"""smoothing stage of the EmoteBot pipeline."""
