"""The encoder/decoder networks: coordinate channels and the "coord" decoder."""

import keras
import numpy as np
import pytest

from zoo import networks


def test_coordinates_are_pixel_centres_in_minus_one_to_one():
    features = np.zeros((2, 2, 4, 3), np.float32)
    out = networks.AddCoordinates()(features).numpy()
    assert out.shape == (2, 2, 4, 5)
    np.testing.assert_array_equal(out[..., :3], 0.0)
    np.testing.assert_allclose(out[0, 0, :, 3], [-0.75, -0.25, 0.25, 0.75])  # x, left to right
    np.testing.assert_allclose(out[0, :, 0, 4], [-0.5, 0.5])  # y, top to bottom
    np.testing.assert_array_equal(out[1], out[0])


@pytest.mark.parametrize("shape", [(28, 28, 1), (32, 32, 3), (64, 64, 3)])
def test_coord_decoder_has_the_image_shape(shape):
    decoder = networks.make_decoder("coord", 5, shape, 2 * shape[-1], base_filters=4)
    assert decoder(np.zeros((3, 5), np.float32)).shape == (3, *shape[:2], 2 * shape[-1])


@pytest.mark.parametrize("kind,widths", [("coord", [8, 16]), ("conv", [4, 8, 16])])
def test_tiled_inputs_reach_every_resolution(kind, widths):
    """Tiled entries are concatenated at every resolution the convolutions see, 16 included.

    16 = 4 * 2 * 2: "coord" convolves after each upsampling, "conv" before
    each transposed convolution (4, 8) and in its last 3x3 convolution (16).
    """
    decoder = networks.make_decoder(kind, 6, (16, 16, 3), 3, base_filters=4, tiled_inputs=2)
    inputs = [layer for layer in decoder.layers if isinstance(layer, keras.layers.Concatenate)]
    assert sorted({layer.output.shape[1] for layer in inputs}) == widths
    assert decoder(np.zeros((2, 6), np.float32)).shape == (2, 16, 16, 3)


def test_conv_decoder_without_tiled_inputs_concatenates_nothing():
    decoder = networks.conv_decoder(6, (16, 16, 3), 3, base_filters=4)
    assert not any(isinstance(layer, keras.layers.Concatenate) for layer in decoder.layers)
    assert decoder(np.zeros((2, 6), np.float32)).shape == (2, 16, 16, 3)


def test_coord_decoder_survives_save_and_load(tmp_path):
    decoder = networks.coord_decoder(5, (16, 16, 3), 3, base_filters=4, tiled_inputs=2)
    path = str(tmp_path / "decoder.keras")
    decoder.save(path)
    z = np.random.default_rng(0).normal(size=(2, 5)).astype(np.float32)
    np.testing.assert_array_equal(keras.models.load_model(path)(z), decoder(z))
