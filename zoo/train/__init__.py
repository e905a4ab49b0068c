"""Training: strategies, the training loop, callbacks and the end-to-end runner."""
