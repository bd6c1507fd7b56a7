"""Training: the model zoo, person datasets, checkpoints and the thin trainer (`seg-train`)."""
