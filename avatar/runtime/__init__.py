"""runtime stage of the EmoteBot pipeline."""
