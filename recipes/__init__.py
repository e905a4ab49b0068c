"""Command-line entry points: `python -m recipes.<model>`."""

import os

# TensorFlow's C++ start-up chatter (CUDA probing, oneDNN notes) hides the run's output.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
