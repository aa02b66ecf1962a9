"""The GAN training step, its losses, and the failure detectors that watch it."""
