"""Feature networks for the Fréchet distance: offline classifier features, Inception from a file."""

import keras
import numpy as np
import pytest

from zoo.data import digits
from zoo.metrics import fid
from zoo.metrics import frechet


def test_distance_of_images_is_the_frechet_distance_of_their_features():
    rng = np.random.default_rng(0)
    images1 = rng.uniform(size=(40, 4, 4, 1)).astype(np.float32)
    images2 = (rng.uniform(size=(30, 4, 4, 1)) ** 2).astype(np.float32)

    def flatten(batch):  # The identity features: the pixels themselves.
        return np.asarray(batch).reshape(len(batch), -1)

    value = fid.frechet_distance_of_images(flatten, images1, images2, batch_size=7)
    assert value == pytest.approx(frechet.frechet_distance_from_features(
        images1.reshape(40, -1), images2.reshape(30, -1)), rel=1e-6)
    assert fid.frechet_distance_of_images(flatten, images1, images1) == pytest.approx(
        0.0, abs=1e-9)
    assert fid.compute_features(flatten, images1, batch_size=7).shape == (40, 16)


def test_classifier_features_train_offline_and_reload(tmp_path):
    images = np.stack([x["image"].numpy() for x in digits.load("train").dataset.take(300)])
    labels = np.stack([x["label"].numpy() for x in digits.load("train").dataset.take(300)])
    images = images.astype(np.float32) / 255.0
    network, accuracy = fid.ClassifierFeatures.train(
        images[:250], labels[:250], epochs=3, batch_size=50, feature_dim=12,
        validation=(images[250:], labels[250:]))
    assert 0.0 <= accuracy <= 1.0
    features = network(images[:7])
    assert features.shape == (7, 12) and np.all(np.isfinite(features))
    path = str(tmp_path / "classifier.keras")
    network.save(path)
    np.testing.assert_allclose(fid.ClassifierFeatures.load(path)(images[:7]), features,
                               rtol=1e-5, atol=1e-6)
    assert fid.compute_features(network, images[:7], batch_size=3).shape == (7, 12)
    # Multi-label targets (attributes) train a sigmoid head.
    attributes = np.random.default_rng(0).uniform(size=(250, 3)) > 0.5
    multi, _ = fid.ClassifierFeatures.train(images[:250], attributes.astype(np.float32),
                                            epochs=1, feature_dim=5)
    assert multi(images[:2]).shape == (2, 5)


def test_inception_features_need_a_weights_file_and_use_it(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        fid.InceptionFeatures(str(tmp_path / "missing.h5"))
    keras.utils.set_random_seed(0)
    source = keras.applications.InceptionV3(include_top=False, weights=None, pooling="avg",
                                            input_shape=(299, 299, 3))
    path = str(tmp_path / "inception.weights.h5")
    source.save_weights(path)
    network = fid.InceptionFeatures(path)
    images = np.random.default_rng(4).uniform(size=(2, 28, 28, 1)).astype(np.float32)
    features = network(images)
    assert features.shape == (2, 2048)
    resized = np.tile(np.asarray(
        keras.ops.image.resize(images, (299, 299), interpolation="bilinear")), [1, 1, 1, 3])
    np.testing.assert_allclose(features, source(resized * 2 - 1, training=False),
                               rtol=1e-4, atol=1e-4)
