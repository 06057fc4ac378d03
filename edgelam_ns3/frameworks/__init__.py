"""Training and inference frameworks that run on the simulated network, one module each."""
