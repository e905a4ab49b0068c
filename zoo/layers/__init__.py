"""Keras 3 layers shared by the zoo's models (the gated PixelCNN's blocks)."""
