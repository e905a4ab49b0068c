r"""Feature networks for Fréchet distances between real and generated images (FID).

The distance itself, between Gaussians fitted to two feature sets, is
`zoo.metrics.frechet` (Heusel et al. 2017, Eq. 6):

    d^2 = ||mu_1 - mu_2||^2 + Tr(S_1 + S_2 - 2 (S_1 S_2)^{1/2}).

This module gives the features it is computed on:

- `InceptionFeatures`: the standard FID features, the 2048-d average-pooled
  output of InceptionV3 (Szegedy et al. 2016) at 299x299, from a weights file
  the user supplies (Keras's `inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5`);
  nothing is downloaded. Keras's ImageNet weights differ slightly from the
  TF-GAN / pytorch-fid Inception graph, so values are close to, not
  identical with, published FIDs.
- `ClassifierFeatures`: offline, a small CNN classifier trained on the
  dataset's own labels, whose penultimate layer gives the features (as for
  the "MNIST FID" of several papers). Its numbers measure the same thing but
  are **not comparable to published FIDs**; compare them only with each
  other and with the real-versus-real reference of the same network.

`frechet_distance_of_images(network, images1, images2)` puts the two together;
`frechet_with_references` scores generated images next to what held-out real
images and an untrained generator score against the same reference.

References:
    Heusel et al. (2017), GANs Trained by a Two Time-Scale Update Rule
    Converge to a Local Nash Equilibrium, Eq. 6.
    Szegedy et al. (2016), Rethinking the Inception Architecture for
    Computer Vision.
"""

import json
import os

import keras
import numpy as np
import tensorflow as tf

from zoo.metrics import frechet

__all__ = ["compute_features", "frechet_distance_of_images", "frechet_with_references",
           "InceptionFeatures", "ClassifierFeatures", "make_classifier"]


def compute_features(feature_network, images, batch_size=250):
    """Features [N, D] (float64) of images [N, H, W, C] in [0, 1], a batch at a time.

    Args:
        feature_network: a callable images -> [B, D] features.
        images: an array or tensor, or an iterable of batches.
        batch_size: images per call when `images` is an array.
    """
    if isinstance(images, (np.ndarray, tf.Tensor)):
        images = np.asarray(images, np.float32)
        batches = (images[i:i + batch_size] for i in range(0, len(images), batch_size))
    else:
        batches = images
    features = [np.asarray(feature_network(batch), np.float64) for batch in batches]
    return np.concatenate(features, axis=0)


def frechet_distance_of_images(feature_network, images1, images2, batch_size=250):
    """The squared Fréchet distance between the features of two image sets.

    Args:
        feature_network: a callable images -> [B, D] features (e.g.
            `InceptionFeatures`, `ClassifierFeatures`).
        images1: [N1, H, W, C] images in [0, 1] (e.g. real).
        images2: [N2, H, W, C] images in [0, 1] (e.g. generated).
        batch_size: images per call of the network.

    Returns:
        `zoo.metrics.frechet.frechet_distance_from_features` of the two
        feature sets, a float >= 0.
    """
    return frechet.frechet_distance_from_features(
        compute_features(feature_network, images1, batch_size),
        compute_features(feature_network, images2, batch_size))


def frechet_with_references(feature_network, reference, generated, real, untrained,
                            name="frechet_distance"):
    """Fréchet distances to `reference` of generated images and of their two yardsticks.

    A perfect generator scores what held-out `real` images of the same count
    score; training starts from what `untrained` samples score.

    Args:
        feature_network: a callable images -> [B, D] features.
        reference: [N, H, W, C] real images in [0, 1] (usually training images).
        generated: [M, H, W, C] images of the trained generator.
        real: held-out real images, as many as `generated`.
        untrained: images of the same generator freshly initialised.
        name: the key of the generated images' distance.

    Returns:
        {name, name + "_reference", name + "_untrained": float distances}.
    """
    features = compute_features(feature_network, reference)
    return {name + suffix: frechet.frechet_distance_from_features(
                compute_features(feature_network, images), features)
            for suffix, images in (("", generated), ("_reference", real),
                                   ("_untrained", untrained))}


class InceptionFeatures:
    """InceptionV3 pool features (2048-d) for the standard FID, from a user-supplied file.

    Images in [0, 1] are resized (bilinear) to 299x299, grey images repeated
    to RGB, and scaled to [-1, 1] as InceptionV3 expects.

    Args:
        weights_path: a Keras InceptionV3 weights file without the top
            (`inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5`, or a
            `.weights.h5` saved from `keras.applications.InceptionV3(
            include_top=False, pooling="avg")`). Never downloaded.

    Raises:
        ValueError: if `weights_path` does not name an existing file.
    """

    size = 299

    def __init__(self, weights_path):
        if not weights_path or not os.path.isfile(weights_path):
            raise ValueError(
                f"InceptionV3 weights file {weights_path!r} does not exist. FID needs Keras's "
                "'inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5' (download it on a "
                "machine with internet from the Keras applications release page) and its path.")
        self.weights_path = weights_path
        self.network = keras.applications.InceptionV3(
            include_top=False, weights=weights_path, pooling="avg",
            input_shape=(self.size, self.size, 3))
        self._features = tf.function(self._compute, reduce_retracing=True)

    def _compute(self, images):
        images = tf.convert_to_tensor(images, tf.float32)
        if images.shape[-1] == 1:
            images = tf.tile(images, [1, 1, 1, 3])
        images = tf.image.resize(images, (self.size, self.size), method="bilinear")
        return self.network(images * 2.0 - 1.0, training=False)

    def __call__(self, images):
        return self._features(images).numpy()


def make_classifier(image_shape, num_outputs, feature_dim=64, base_filters=32):
    """A small CNN: three stride-2 convolutions, a `features` layer, and the logits."""
    return keras.Sequential([
        keras.Input(shape=tuple(image_shape)),
        keras.layers.Conv2D(base_filters, 3, 2, padding="same", activation="relu"),
        keras.layers.Conv2D(2 * base_filters, 3, 2, padding="same", activation="relu"),
        keras.layers.Conv2D(4 * base_filters, 3, 2, padding="same", activation="relu"),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(feature_dim, activation="relu", name="features"),
        keras.layers.Dense(num_outputs, name="logits"),
    ], name="feature_classifier")


class ClassifierFeatures:
    """Penultimate-layer features of a small classifier trained on the dataset's labels.

    Offline stand-in for Inception features: train it on real labelled images
    (`train`), then call it on images in [0, 1]. Distances computed with it
    are comparable only with each other (see the module docstring).

    Args:
        classifier: a Keras model with a layer named "features" (see
            `make_classifier`).
    """

    def __init__(self, classifier):
        self.classifier = classifier
        self.network = keras.Model(classifier.inputs,
                                   classifier.get_layer("features").output)
        self._features = tf.function(lambda x: self.network(x, training=False),
                                     reduce_retracing=True)

    @classmethod
    def train(cls, images, targets, epochs=10, batch_size=128, learning_rate=1e-3,
              feature_dim=64, seed=0, validation=None):
        """Trains a `make_classifier` network on labelled real images.

        Args:
            images: float [N, H, W, C] in [0, 1].
            targets: int [N] class labels (softmax cross-entropy) or float
                [N, A] binary attributes (sigmoid cross-entropy).
            epochs, batch_size, learning_rate: Adam training schedule.
            feature_dim: width of the feature layer.
            seed: seed of initialisation and shuffling.
            validation: optional (images, targets) whose accuracy is reported.

        Returns:
            (ClassifierFeatures, accuracy on `validation` or None).
        """
        images = np.asarray(images, np.float32)
        targets = np.asarray(targets)
        multi_label = targets.ndim == 2
        num_outputs = targets.shape[1] if multi_label else int(targets.max()) + 1
        keras.utils.set_random_seed(seed)
        classifier = make_classifier(images.shape[1:], num_outputs, feature_dim)
        if multi_label:
            loss = keras.losses.BinaryCrossentropy(from_logits=True)
            metric = keras.metrics.BinaryAccuracy(threshold=0.0, name="accuracy")
        else:
            loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
            metric = keras.metrics.SparseCategoricalAccuracy(name="accuracy")
        classifier.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=loss,
                           metrics=[metric], jit_compile=False)
        classifier.fit(images, targets.astype(np.float32 if multi_label else np.int64),
                       batch_size=batch_size, epochs=epochs, shuffle=True, verbose=0)
        accuracy = None
        if validation is not None:
            accuracy = float(classifier.evaluate(
                np.asarray(validation[0], np.float32), np.asarray(validation[1]),
                batch_size=batch_size, verbose=0, return_dict=True)["accuracy"])
        return cls(classifier), accuracy

    def save(self, path):
        """Writes the classifier as a `.keras` file."""
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        self.classifier.save(path)

    @classmethod
    def load(cls, path):
        """Reads a classifier written by `save`."""
        return cls(keras.models.load_model(path, compile=False))

    def save_cached(self, directory, info):
        """Writes `directory`/classifier.keras and classifier.json (`info`), each atomically.

        Atomic, since every worker of a multi-worker run evaluates (identically).
        """
        os.makedirs(directory, exist_ok=True)
        partial = os.path.join(directory, f"classifier-{os.getpid()}.keras")
        self.classifier.save(partial)
        os.replace(partial, os.path.join(directory, "classifier.keras"))
        info_path = os.path.join(directory, "classifier.json")
        with open(f"{info_path}.{os.getpid()}", "w") as handle:
            json.dump(info, handle)
        os.replace(f"{info_path}.{os.getpid()}", info_path)

    @classmethod
    def load_cached(cls, directory):
        """(network, info) written by `save_cached`, or None when `directory` has none."""
        path = os.path.join(directory, "classifier.keras")
        info_path = os.path.join(directory, "classifier.json")
        if not (os.path.exists(path) and os.path.exists(info_path)):
            return None
        with open(info_path) as handle:
            return cls.load(path), json.load(handle)

    def __call__(self, images):
        return self._features(tf.convert_to_tensor(images, tf.float32)).numpy()
