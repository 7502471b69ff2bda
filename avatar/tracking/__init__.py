"""tracking stage of the EmoteBot pipeline."""
