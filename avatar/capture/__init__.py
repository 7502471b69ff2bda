"""capture stage of the EmoteBot pipeline."""
