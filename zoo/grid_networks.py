"""Networks between images and grids of vectors: the VQ-VAE's encoder and decoder.

As in van den Oord, Vinyals & Kavukcuoglu (2017, section 4.1): strided 4x4
convolutions halve the image `downsamples` times (28 -> 14 -> 7), residual
blocks (ReLU, 3x3 convolution, ReLU, 1x1 convolution, added to the input)
follow, and a 1x1 convolution gives D channels per grid position. The decoder
mirrors it with transposed convolutions. No batch normalisation, so each
example's code depends on that example only (and a mirrored step equals a
one-device step).
"""

import keras

__all__ = ["grid_encoder", "grid_decoder", "grid_side"]


def grid_side(image_side, downsamples):
    """The side of the code grid of square images, or a ValueError naming the sizes."""
    if downsamples < 1 or image_side % (2 ** downsamples):
        raise ValueError(f"image size {image_side} cannot be halved {downsamples} times "
                         f"exactly; pass a size divisible by {2 ** downsamples} or fewer "
                         "downsamples.")
    return image_side // 2 ** downsamples


def _residual_blocks(features, filters, count):
    for _ in range(count):
        inner = keras.layers.ReLU()(features)
        inner = keras.layers.Conv2D(filters, 3, padding="same")(inner)
        inner = keras.layers.ReLU()(inner)
        # No bias before the sum: grappler's remapper fails to fuse Conv2D + BiasAdd + Add
        # + ReLU here and logs an error on every trace (TF 2.21).
        inner = keras.layers.Conv2D(filters, 1, use_bias=False)(inner)
        features = keras.layers.Add()([features, inner])
    return keras.layers.ReLU()(features)


def grid_encoder(image_shape, embedding_dim, filters=64, downsamples=2, residual_blocks=2,
                 name="encoder"):
    """Images [B, H, W, C] -> encodings z_e [B, H / 2^d, W / 2^d, embedding_dim]."""
    grid_side(image_shape[0], downsamples)
    inputs = keras.Input(shape=tuple(image_shape))
    features = inputs
    for level in range(downsamples):
        features = keras.layers.Conv2D(filters, 4, 2, padding="same")(features)
        if level < downsamples - 1:
            features = keras.layers.ReLU()(features)
    features = keras.layers.Conv2D(filters, 3, padding="same")(features)
    features = _residual_blocks(features, filters, residual_blocks)
    outputs = keras.layers.Conv2D(embedding_dim, 1, dtype="float32")(features)
    return keras.Model(inputs, outputs, name=name)


def grid_decoder(grid_shape, output_channels, filters=64, upsamples=2, residual_blocks=2,
                 name="decoder"):
    """Codes [B, h, w, D] -> raw image parameters [B, h 2^u, w 2^u, output_channels]."""
    inputs = keras.Input(shape=tuple(grid_shape))
    features = keras.layers.Conv2D(filters, 3, padding="same")(inputs)
    features = _residual_blocks(features, filters, residual_blocks)
    for _ in range(upsamples - 1):
        features = keras.layers.Conv2DTranspose(filters, 4, 2, padding="same")(features)
        features = keras.layers.ReLU()(features)
    outputs = keras.layers.Conv2DTranspose(output_channels, 4, 2, padding="same",
                                           dtype="float32")(features)
    return keras.Model(inputs, outputs, name=name)
