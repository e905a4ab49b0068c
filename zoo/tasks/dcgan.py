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
import json
import os
from typing import Optional

import keras
import numpy as np
import tensorflow as tf
from absl import logging

from zoo import checks
from zoo.data import catalog
from zoo.data import pipeline
from zoo.losses import f_divergences
from zoo.losses import objectives
from zoo.metrics import fid
from zoo.metrics import frechet
from zoo.models import gan
from zoo.train import task

__all__ = ["DCGANConfig", "DCGANTask", "evaluate", "real_images", "report"]

_LABEL_KEYS = ("label", "attributes")


@dataclasses.dataclass
class DCGANConfig(task.RunConfig):
    """A DCGAN run: `python -m recipes.dcgan`."""
    model_dir: str = "runs/dcgan"
    epochs: int = 60
    learning_rate: Optional[float] = task.setting(
        None, "Adam learning rate of both players, where --d_learning_rate and "
        "--g_learning_rate are not given.", check=checks.finite_positive)
    latent_dim: int = task.setting(64, "Size of z ~ N(0, I).", model=True)
    loss: str = task.setting(
        "non_saturating", "minimax (saturating log(1 - D(G(z)))), non_saturating "
        "(-log D(G(z))), or an f-GAN divergence: " + ", ".join(f_divergences.NAMES) + ".",
        model=True, choices=tuple(objectives.NAMES))
    generator_update: str = task.setting(
        "saddle", "f-GAN only: saddle (-f*(g_f(v))) or alternative (-g_f(v)).", model=True,
        choices=tuple(f_divergences.GENERATOR_UPDATES))
    pi: Optional[float] = task.setting(
        None, "Weight of the data in --loss=weighted_jensen_shannon, in (0, 1); default "
        "0.5.", model=True)
    base_filters: int = task.setting(64, "Filters of the discriminator's first convolution.",
                                     model=True)
    d_steps: int = task.setting(
        1, "Discriminator updates per generator update; each takes batch_size / d_steps "
        "real images.", model=True)
    ema_decay: float = task.setting(
        0.999, "Decay of the generator's weight average used for samples and export; 0 "
        "turns it off.", model=True)
    d_learning_rate: Optional[float] = task.setting(
        None, "Discriminator Adam learning rate; default --learning_rate if given, else "
        "1e-4.", check=checks.finite_positive)
    g_learning_rate: Optional[float] = task.setting(
        None, "Generator Adam learning rate; default --learning_rate if given, else 4e-4.",
        check=checks.finite_positive)
    beta1: float = task.setting(0.5, "Adam beta_1 of both optimizers (Radford et al.: 0.5).",
                                check=checks.finite_non_negative)
    beta2: float = task.setting(0.999, "Adam beta_2 of both optimizers.",
                                check=checks.finite_non_negative)
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
        for name in ("beta1", "beta2"):
            if not getattr(self, name) < 1.0:
                raise ValueError(f"{name} must be in [0, 1); got {getattr(self, name)}.")
        if self.global_batch_size % self.d_steps:
            raise ValueError(f"batch_size={self.global_batch_size} must be a multiple of "
                             f"d_steps={self.d_steps}: each discriminator step takes "
                             "batch_size / d_steps real images.")
        if self.inception_weights is not None and not os.path.isfile(self.inception_weights):
            raise ValueError(f"inception_weights={self.inception_weights} is not a file; pass "
                             "an InceptionV3 no-top weights file.")

    def learning_rates(self):
        """(discriminator, generator) Adam rates: their own, else `learning_rate`, else 1e-4, 4e-4."""
        return (self.d_learning_rate or self.learning_rate or 1e-4,
                self.g_learning_rate or self.learning_rate or 4e-4)

    def objective(self):
        """The `zoo.losses.objectives.Objective` that `loss` names."""
        if self.loss not in f_divergences.NAMES:
            if self.generator_update != "saddle" or self.pi is not None:
                raise ValueError("generator_update and pi only apply to f-GAN losses; use "
                                 "--loss=minimax or --loss=non_saturating without them.")
            return objectives.Objective(self.loss)
        options = {"generator_update": self.generator_update}
        if self.pi is not None:
            options["pi"] = self.pi
        return objectives.Objective(self.loss, **options)


def real_images(config, split, image_shape, limit, with_targets=False):
    """Up to `limit` real images in [0, 1] (and labels or attributes, else None) of a split."""
    source = catalog.load(config.dataset, split, image_size=image_shape[0],
                          data_dir=config.data_dir, manual_dir=config.manual_dir,
                          download=config.download)
    keys = ("image",)
    target_key = None
    if with_targets:
        target_key = next((k for k in _LABEL_KEYS if k in source.dataset.element_spec), None)
        keys += (target_key,) if target_key else ()
    data = pipeline.make_dataset(source, 256, "discrete", training=False,
                                 image_size=image_shape[0], channels=image_shape[-1],
                                 keys=keys, seed=config.seed)
    images, targets, count = [], [], 0
    for batch in data:
        images.append(batch["image"].numpy())
        if target_key:
            targets.append(batch[target_key].numpy())
        count += len(images[-1])
        if count >= limit:
            break
    images = np.concatenate(images)[:limit]
    targets = np.concatenate(targets)[:limit] if target_key else None
    return images, targets


def _generated(model, count, seed, batch_size=250):
    latents = tf.random.stateless_normal([count, model.latent_dim], [seed, 12345])
    return np.concatenate([model.generate(latents[i:i + batch_size]).numpy()
                           for i in range(0, count, batch_size)])


def _classifier_features(config, image_shape, classifier_examples=20_000):
    """The offline feature network: loaded from the model directory, or trained and kept."""
    directory = os.path.join(config.model_dir, "fid")
    path = os.path.join(directory, "classifier.keras")
    info_path = os.path.join(directory, "classifier.json")
    if os.path.exists(path) and os.path.exists(info_path):
        with open(info_path) as handle:
            return fid.ClassifierFeatures.load(path), json.load(handle)["test_accuracy"]
    images, targets = real_images(config, "train", image_shape, classifier_examples,
                                  with_targets=True)
    if targets is None:
        return None, None
    test = real_images(config, "test", image_shape, 5_000, with_targets=True)
    epochs = config.fid_classifier_epochs or int(np.clip(150_000 // len(images), 2, 15))
    logging.info("training the FID feature classifier on %d labelled images, %d epochs",
                 len(images), epochs)
    network, accuracy = fid.ClassifierFeatures.train(
        images, targets, epochs=epochs, seed=config.seed,
        validation=test if test[1] is not None else None)
    # Written atomically: every worker of a multi-worker run evaluates (identically).
    partial = os.path.join(directory, f"classifier-{os.getpid()}.keras")
    network.save(partial)
    os.replace(partial, path)
    with open(info_path + f".{os.getpid()}", "w") as handle:
        json.dump({"test_accuracy": accuracy, "train_examples": len(images),
                   "epochs": epochs}, handle)
    os.replace(info_path + f".{os.getpid()}", info_path)
    return network, accuracy


def evaluate(model, config):
    """Fréchet distances of generated images, with real-versus-real references.

    Args:
        model: a trained `zoo.DCGAN`.
        config: the run's `DCGANConfig` (`fid_samples`, `inception_weights`,
            `fid_classifier_epochs`).

    Returns:
        dict with `frechet_distance`, `frechet_distance_reference`,
        `frechet_distance_untrained` (the same model freshly initialised:
        what training started from), `feature_classifier_accuracy` (when the
        data has labels), `fid`, `fid_reference` and `fid_untrained` (with
        Inception weights), and `fid_samples`.
    """
    limit = config.fid_samples
    image_shape = model.image_shape
    train, _ = real_images(config, "train", image_shape, limit)
    test, _ = real_images(config, "test", image_shape, limit)
    count = min(len(test), limit)
    generated = _generated(model, count, config.seed)
    keras.utils.set_random_seed(config.seed)  # As `runner.run` before building the model.
    untrained = _generated(type(model).from_config(model.get_config()), count, config.seed)
    results = {"fid_samples": count, "fid_train_images": len(train)}
    networks = {}
    classifier, accuracy = _classifier_features(config, image_shape)
    if classifier is not None:
        networks["frechet_distance"] = classifier
        results["feature_classifier_accuracy"] = accuracy
    if config.inception_weights:
        networks["fid"] = fid.InceptionFeatures(config.inception_weights)
    for name, network in networks.items():
        reference = fid.compute_features(network, train)
        results[name] = frechet.frechet_distance_from_features(
            fid.compute_features(network, generated), reference)
        results[name + "_reference"] = frechet.frechet_distance_from_features(
            fid.compute_features(network, test[:count]), reference)
        results[name + "_untrained"] = frechet.frechet_distance_from_features(
            fid.compute_features(network, untrained), reference)
    return results


def report(results):
    """The Fréchet distances, each beside its references."""
    count, train = results["fid_samples"], results["fid_train_images"]
    if "frechet_distance" in results:
        lines = [f"Fréchet distance (classifier features, {count} generated vs {train} real "
                 f"training images): {results['frechet_distance']:.2f}; untrained generator "
                 f"{results['frechet_distance_untrained']:.2f}; {count} real test images "
                 f"score {results['frechet_distance_reference']:.2f}"]
    else:
        lines = ["Fréchet distance: no labels to train the offline feature network on; pass "
                 "--inception_weights for the standard FID."]
    if "fid" in results:
        lines.append(f"FID (InceptionV3 pool features): {results['fid']:.2f}; untrained "
                     f"generator {results['fid_untrained']:.2f}; real test images score "
                     f"{results['fid_reference']:.2f}")
    return lines


class DCGANTask(task.Task):
    """A `zoo.DCGAN` with Adam for each player, judged by Fréchet distances."""
    name = "dcgan"
    config_class = DCGANConfig

    def build_model(self, source):
        config = self.config
        return gan.DCGAN(self.image_shape(source), latent_dim=config.latent_dim,
                         objective=config.objective(), base_filters=config.base_filters,
                         d_steps=config.d_steps, ema_decay=config.ema_decay, seed=config.seed)

    def compile(self, model):
        """Adam for each player (`DCGANConfig.learning_rates`)."""
        config = self.config

        def adam(rate):
            return keras.optimizers.Adam(rate, beta_1=config.beta1, beta_2=config.beta2)

        d_rate, g_rate = config.learning_rates()
        model.compile(d_optimizer=adam(d_rate), g_optimizer=adam(g_rate),
                      jit_compile=config.jit_compile)

    def encoding(self, model):
        return "discrete"

    def evaluate(self, model, data):
        return evaluate(model, self.config)

    def report(self, results):
        return report(results)
