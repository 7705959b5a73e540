"""Training loop, hooks and the inference loop."""
