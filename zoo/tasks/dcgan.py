"""The DCGAN's task: build it from a run configuration, compile both optimizers, judge samples.

Evaluation reports Fréchet distances (`zoo.metrics.frechet` on the features
of `zoo.metrics.fid`) between generated and real images, each next to two
references: the same distance for *held-out real* images (what a perfect
generator would score with the same sample sizes) and for a freshly
initialised generator of the same architecture (what training started from):

- `frechet_distance`: features of a small classifier trained on the
  dataset's own labels (`label`, or CelebA-style `attributes`), offline. The
  network is trained once per model directory and kept in
  `MODEL_DIR/fid/classifier.keras`. Not comparable to published FIDs.
- `fid`: the standard InceptionV3 features, only when the
  `inception_weights` setting names a weights file.

Both compare N generated images, and for the reference N real *test* images,
with up to `fid_samples` real *training* images (the statistics FID is usually
taken against), N = min(test images, `fid_samples`).
"""

import dataclasses
import os
from typing import Optional

import keras
import numpy as np
import tensorflow as tf
from absl import logging

from zoo import checks
from zoo.metrics import fid
from zoo.models import gan
from zoo.tasks import gan as gan_task
from zoo.train import task

__all__ = ["DCGANConfig", "DCGANTask"]

_LABEL_KEYS = ("label", "attributes")


@dataclasses.dataclass
class DCGANConfig(gan_task.GANConfig):
    """A DCGAN run: `python -m recipes.dcgan`."""
    model_dir: str = "runs/dcgan"
    epochs: int = 60
    base_filters: int = task.setting(64, "Filters of the discriminator's first convolution.",
                                     model=True)
    fid_samples: int = task.setting(
        2000, "At most this many images per set for the Fréchet distances.",
        check=checks.positive_int)
    fid_classifier_epochs: Optional[int] = task.setting(
        None, "Epochs of the offline feature classifier (default: by dataset size, 2 to 15).",
        check=checks.positive_int)
    inception_weights: Optional[str] = task.setting(
        None, "Keras InceptionV3 no-top weights file for the standard FID (never "
        "downloaded).")

    def __post_init__(self):
        super().__post_init__()
        if self.global_batch_size % self.d_steps:
            raise ValueError(f"batch_size={self.global_batch_size} must be a multiple of "
                             f"d_steps={self.d_steps}: each discriminator step takes "
                             "batch_size / d_steps real images.")
        if self.inception_weights is not None and not os.path.isfile(self.inception_weights):
            raise ValueError(f"inception_weights={self.inception_weights} is not a file; pass "
                             "an InceptionV3 no-top weights file.")


class DCGANTask(gan_task.GANTask):
    """A `zoo.DCGAN` with Adam for each player, judged by Fréchet distances."""
    name = "dcgan"
    config_class = DCGANConfig

    def build_model(self, source):
        config = self.config
        return gan.DCGAN(self.image_shape(source), latent_dim=config.latent_dim,
                         objective=config.objective(), base_filters=config.base_filters,
                         d_steps=config.d_steps, ema_decay=config.ema_decay, seed=config.seed)

    def encoding(self, model):
        return "discrete"

    def real_images(self, model, source, limit, with_targets=False):
        """Up to `limit` images of `source` in [0, 1] (and labels or attributes, else None)."""
        spec = source.dataset.element_spec
        target = next((k for k in _LABEL_KEYS if k in spec), None) if with_targets else None
        keys = ("image",) + ((target,) if target else ())
        batches = list(self.batches(model, source, training=False, keys=keys,
                                    encoding="discrete", batch_size=256).take(-(-limit // 256)))
        images = np.concatenate([batch["image"].numpy() for batch in batches])[:limit]
        if target is None:
            return images, None
        return images, np.concatenate([batch[target].numpy() for batch in batches])[:limit]

    def feature_classifier(self, model, data, examples=20_000):
        """(network, test accuracy) kept in MODEL_DIR/fid, else trained on labelled images."""
        directory = os.path.join(self.config.model_dir, "fid")
        cached = fid.ClassifierFeatures.load_cached(directory)
        if cached is not None:
            return cached[0], cached[1]["test_accuracy"]
        images, targets = self.real_images(model, data.train, examples, with_targets=True)
        if targets is None:
            return None, None
        test = self.real_images(model, data.test, 5_000, with_targets=True)
        epochs = self.config.fid_classifier_epochs or int(np.clip(150_000 // len(images), 2, 15))
        logging.info("training the FID feature classifier on %d labelled images, %d epochs",
                     len(images), epochs)
        network, accuracy = fid.ClassifierFeatures.train(
            images, targets, epochs=epochs, seed=self.config.seed,
            validation=test if test[1] is not None else None)
        network.save_cached(directory, {"test_accuracy": accuracy,
                                        "train_examples": len(images), "epochs": epochs})
        return network, accuracy

    def evaluate(self, model, data):
        """Fréchet distances of generated images beside their references (module docstring).

        Returns:
            `fid.frechet_with_references` under `frechet_distance` (with
            `feature_classifier_accuracy`, when the data has labels) and `fid`
            (with Inception weights), and `fid_samples`, `fid_train_images`.
        """
        config = self.config
        train, _ = self.real_images(model, data.train, config.fid_samples)
        test, _ = self.real_images(model, data.test, config.fid_samples)
        count = len(test)
        generated = _generated(model, count, config.seed)
        keras.utils.set_random_seed(config.seed)  # As `runner.run` before building the model.
        untrained = _generated(type(model).from_config(model.get_config()), count, config.seed)
        results = {"fid_samples": count, "fid_train_images": len(train)}
        networks = {}
        classifier, accuracy = self.feature_classifier(model, data)
        if classifier is not None:
            networks["frechet_distance"] = classifier
            results["feature_classifier_accuracy"] = accuracy
        if config.inception_weights:
            networks["fid"] = fid.InceptionFeatures(config.inception_weights)
        for name, network in networks.items():
            results.update(fid.frechet_with_references(network, train, generated, test,
                                                       untrained, name=name))
        return results

    def report(self, results):
        """The Fréchet distances, each beside its references."""
        count, train = results["fid_samples"], results["fid_train_images"]
        lines = ["Fréchet distance: no labels to train the offline feature network on; pass "
                 "--inception_weights for the standard FID."]
        if "frechet_distance" in results:
            lines = [f"Fréchet distance (classifier features, {count} generated vs {train} real "
                     f"training images): {results['frechet_distance']:.2f}; untrained generator "
                     f"{results['frechet_distance_untrained']:.2f}; {count} real test images "
                     f"score {results['frechet_distance_reference']:.2f}"]
        if "fid" in results:
            lines.append(f"FID (InceptionV3 pool features): {results['fid']:.2f}; untrained "
                         f"generator {results['fid_untrained']:.2f}; real test images score "
                         f"{results['fid_reference']:.2f}")
        return lines


def _generated(model, count, seed, batch_size=250):
    latents = tf.random.stateless_normal([count, model.latent_dim], [seed, 12345])
    return np.concatenate([model.generate(latents[i:i + batch_size]).numpy()
                           for i in range(0, count, batch_size)])
