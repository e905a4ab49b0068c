"""Encoder and decoder networks, as plain (serializable) Keras models.

The convolutional pair is DCGAN-shaped (Radford et al. 2016): 4x4 convolutions
of stride 2 halve the image until it is at most 7 pixels wide (28 -> 14 -> 7,
32 -> 16 -> 8 -> 4, 64 -> ... -> 4), and transposed convolutions mirror that.
Any square size whose halvings reach a width of 3 to 7 works.

The "coord" decoder renders where things are more easily: at every
resolution it upsamples (nearest neighbour), appends the pixel coordinates
as two channels (CoordConv, Liu et al. 2018) and applies two 3x3
convolutions. A DCGAN decoder has to learn position from padding effects
and renders small shapes as blobs for a long time; this one can draw a
shape's edges as functions of (pixel - position). Its encoder is the
convolutional one.

Networks output raw parameters; `zoo.distributions` turns them into
distributions. There is no batch normalisation: per-example independence
keeps the ELBO per example and makes a mirrored run equal a one-device run.
"""

import keras
import tensorflow as tf

__all__ = ["conv_encoder", "conv_decoder", "coord_decoder", "AddCoordinates",
           "mlp_encoder", "mlp_decoder",
           "make_encoder", "make_decoder", "ENCODERS", "DECODERS",
           "downsampling_plan", "square_side"]


def downsampling_plan(size):
    """(number of stride-2 layers, smallest width) for a square image side.

    Raises:
        ValueError: if `size` cannot be halved down to a width of 3 to 7.
    """
    steps = 0
    while size > 7 and size % 2 == 0:
        size //= 2
        steps += 1
    if steps == 0 or not 3 <= size <= 7:
        raise ValueError(
            f"Image size {size * 2 ** steps} is not supported by the "
            "convolutional networks: it must halve down to a width of 3 to 7 "
            "(e.g. 28, 32, 48, 64, 96, 128).")
    return steps, size


def square_side(image_shape):
    """The side of square images; the convolutional networks need height == width.

    Their stride-2 plan is computed for one side and the decoder draws a
    square, so other shapes would fail far away, inside the likelihood.
    """
    height, width = image_shape[0], image_shape[1]
    if height != width:
        raise ValueError(
            f"The convolutional networks need square images (height == width); got "
            f"image_shape {tuple(image_shape)}: crop or resize to a square, or use "
            "network='mlp'.")
    return height


def _filters(level, base_filters, max_filters=512):
    return min(base_filters * 2 ** level, max_filters)


def conv_encoder(image_shape, output_dim, base_filters=32, name="encoder"):
    """Images [B, H, W, C] -> raw outputs [B, output_dim]."""
    steps, _ = downsampling_plan(square_side(image_shape))
    layers = [keras.Input(shape=tuple(image_shape))]
    for level in range(steps):
        layers += [keras.layers.Conv2D(_filters(level, base_filters), 4, 2,
                                       padding="same"),
                   keras.layers.LeakyReLU(0.2)]
    layers += [keras.layers.Flatten(),
               keras.layers.Dense(output_dim, dtype="float32")]
    return keras.Sequential(layers, name=name)


def conv_decoder(input_dim, image_shape, output_channels, base_filters=32,
                 tiled_inputs=0, name="decoder"):
    """Vectors [B, input_dim] -> raw image parameters [B, H, W, output_channels].

    Dense to the smallest width, then stride-2 transposed convolutions and a
    3x3 convolution. With `tiled_inputs` > 0 the last `tiled_inputs` input
    entries (e.g. a CVAE's attributes) are also tiled over the feature maps
    and concatenated to the input of every (transposed) convolution, so that
    every resolution sees them directly (Yan et al. 2016's conditional
    decoder).
    """
    steps, width = downsampling_plan(square_side(image_shape))
    inputs = keras.Input(shape=(input_dim,))
    tiled = (keras.layers.Reshape((1, 1, tiled_inputs))(inputs[:, input_dim - tiled_inputs:])
             if tiled_inputs else None)

    def with_tiled(features):
        if tiled is None:
            return features
        side = features.shape[1]
        return keras.layers.Concatenate()([features, keras.layers.UpSampling2D(side)(tiled)])

    top = _filters(steps - 1, base_filters)
    features = keras.layers.Dense(width * width * top)(inputs)
    features = keras.layers.ReLU()(features)
    features = keras.layers.Reshape((width, width, top))(features)
    for level in reversed(range(steps)):
        features = keras.layers.Conv2DTranspose(
            _filters(max(level - 1, 0), base_filters), 4, 2, padding="same")(with_tiled(features))
        features = keras.layers.ReLU()(features)
    outputs = keras.layers.Conv2D(output_channels, 3, padding="same", dtype="float32")(
        with_tiled(features))
    return keras.Model(inputs, outputs, name=name)


@keras.saving.register_keras_serializable(package="zoo")
class AddCoordinates(keras.layers.Layer):
    """Appends each pixel's (x, y) centre, in [-1, 1], as two channels (CoordConv)."""

    def call(self, features):
        height, width = features.shape[1], features.shape[2]
        along_x = (tf.range(width, dtype=features.dtype) + 0.5) * (2.0 / width) - 1.0
        along_y = (tf.range(height, dtype=features.dtype) + 0.5) * (2.0 / height) - 1.0
        grid_y, grid_x = tf.meshgrid(along_y, along_x, indexing="ij")
        grid = tf.stack([grid_x, grid_y], axis=-1)[None]
        return tf.concat([features, tf.tile(grid, [tf.shape(features)[0], 1, 1, 1])], axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], input_shape[-1] + 2)


def coord_decoder(input_dim, image_shape, output_channels, base_filters=32,
                  tiled_inputs=0, name="decoder"):
    """Vectors [B, input_dim] -> raw image parameters, with coordinates at every resolution.

    Dense to the smallest width, then per resolution: nearest-neighbour
    upsampling, the pixel coordinates (and the last `tiled_inputs` input
    entries, e.g. a CVAE's attributes, tiled over the map) appended, and two
    3x3 convolutions.
    """
    steps, width = downsampling_plan(square_side(image_shape))
    inputs = keras.Input(shape=(input_dim,))
    tiled = (keras.layers.Reshape((1, 1, tiled_inputs))(inputs[:, input_dim - tiled_inputs:])
             if tiled_inputs else None)

    top = _filters(steps - 1, base_filters)
    features = keras.layers.Dense(width * width * top, activation="relu")(inputs)
    features = keras.layers.Reshape((width, width, top))(features)
    size = width
    for level in reversed(range(steps)):
        size *= 2
        features = keras.layers.UpSampling2D(2)(features)
        # The coordinates (and tiled inputs) of this resolution, built once for both convolutions.
        context = AddCoordinates()(features[..., :0])
        if tiled is not None:
            context = keras.layers.Concatenate()([context, keras.layers.UpSampling2D(size)(tiled)])
        for _ in range(2):
            features = keras.layers.Conv2D(_filters(level, base_filters), 3, padding="same",
                                           activation="relu")(
                keras.layers.Concatenate()([features, context]))
    outputs = keras.layers.Conv2D(output_channels, 3, padding="same", dtype="float32")(features)
    return keras.Model(inputs, outputs, name=name)


def mlp_encoder(image_shape, output_dim, hidden=(512, 256), name="encoder"):
    """Images -> raw outputs through fully connected layers."""
    layers = [keras.Input(shape=tuple(image_shape)), keras.layers.Flatten()]
    layers += [keras.layers.Dense(units, activation="relu") for units in hidden]
    layers.append(keras.layers.Dense(output_dim, dtype="float32"))
    return keras.Sequential(layers, name=name)


def mlp_decoder(input_dim, image_shape, output_channels, hidden=(256, 512),
                name="decoder"):
    """Vectors -> raw image parameters through fully connected layers."""
    height, width = image_shape[:2]
    layers = [keras.Input(shape=(input_dim,))]
    layers += [keras.layers.Dense(units, activation="relu") for units in hidden]
    layers += [keras.layers.Dense(height * width * output_channels,
                                  dtype="float32"),
               keras.layers.Reshape((height, width, output_channels))]
    return keras.Sequential(layers, name=name)


ENCODERS = {"conv": conv_encoder, "coord": conv_encoder, "mlp": mlp_encoder}
DECODERS = {"conv": conv_decoder, "coord": coord_decoder, "mlp": mlp_decoder}


def _pick(table, kind):
    if kind not in table:
        raise ValueError(f"Unknown network {kind!r}; expected one of {sorted(table)}.")
    return table[kind]


def make_encoder(kind, image_shape, output_dim, **kwargs):
    """An encoder network by kind ("conv", "coord" or "mlp")."""
    return _pick(ENCODERS, kind)(image_shape, output_dim, **kwargs)


def make_decoder(kind, input_dim, image_shape, output_channels, **kwargs):
    """A decoder network by kind ("conv", "coord" or "mlp")."""
    return _pick(DECODERS, kind)(input_dim, image_shape, output_channels, **kwargs)
