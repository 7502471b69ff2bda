"""generator stage of the EmoteBot pipeline."""
