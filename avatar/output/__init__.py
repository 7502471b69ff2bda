"""output stage of the EmoteBot pipeline."""
