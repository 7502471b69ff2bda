"""expression stage of the EmoteBot pipeline."""
