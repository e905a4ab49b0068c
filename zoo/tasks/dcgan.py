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
- `fid`: the standard InceptionV3 features, only when
  `eval_kwargs["inception_weights"]` names a weights file.

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

from zoo.models import gan
from zoo.data import pipeline
from zoo.data import catalog
from zoo.metrics import fid
from zoo.metrics import frechet
from zoo.tasks import vae as vae_task
from zoo.train import runner

__all__ = ["TASK", "GANRunConfig", "build_model", "compile_model", "evaluate",
           "real_images"]

_LABEL_KEYS = ("label", "attributes")


@dataclasses.dataclass
class GANRunConfig(runner.RunConfig):
    """A `RunConfig` with the two optimizers' settings (None: `learning_rate`, Adam's 0.5/0.999)."""
    model_dir: str = "runs/dcgan"
    learning_rate: float = 2e-4
    d_learning_rate: Optional[float] = None
    g_learning_rate: Optional[float] = None
    beta1: float = 0.5
    beta2: float = 0.999


def build_model(config, source):
    return gan.DCGAN(vae_task.image_shape(config, source), seed=config.seed,
                       **config.model_kwargs)


def compile_model(model, config):
    """Adam for each player; learning rates default to `config.learning_rate`."""
    beta1 = getattr(config, "beta1", 0.5)
    beta2 = getattr(config, "beta2", 0.999)

    def adam(rate):
        return keras.optimizers.Adam(rate or config.learning_rate, beta_1=beta1, beta_2=beta2)

    model.compile(d_optimizer=adam(getattr(config, "d_learning_rate", None)),
                  g_optimizer=adam(getattr(config, "g_learning_rate", None)),
                  jit_compile=config.jit_compile)


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


def _classifier_features(config, image_shape, kwargs):
    """The offline feature network: loaded from the model directory, or trained and kept."""
    directory = os.path.join(config.model_dir, "fid")
    path = os.path.join(directory, "classifier.keras")
    info_path = os.path.join(directory, "classifier.json")
    if os.path.exists(path) and os.path.exists(info_path):
        with open(info_path) as handle:
            return fid.ClassifierFeatures.load(path), json.load(handle)["test_accuracy"]
    images, targets = real_images(config, "train", image_shape,
                                  kwargs.get("classifier_examples", 20_000), with_targets=True)
    if targets is None:
        return None, None
    test = real_images(config, "test", image_shape, 5_000, with_targets=True)
    epochs = kwargs.get("classifier_epochs") or int(np.clip(150_000 // len(images), 2, 15))
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


def evaluate(model, dataset, config):
    """Fréchet distances of generated images, with real-versus-real references.

    Args:
        model: a trained `zoo.DCGAN`.
        dataset: unused (the runner's test batches); real images are read with
            their labels here.
        config: the run's configuration; `eval_kwargs` may hold `fid_samples`
            (default 2000), `inception_weights`, `classifier_examples`,
            `classifier_epochs`.

    Returns:
        dict with `frechet_distance`, `frechet_distance_reference`,
        `frechet_distance_untrained` (the same model freshly initialised:
        what training started from), `feature_classifier_accuracy` (when the
        data has labels), `fid`, `fid_reference` and `fid_untrained` (with
        Inception weights), and `fid_samples`.
    """
    del dataset  # Labels are needed too: read below.
    kwargs = config.eval_kwargs
    limit = int(kwargs.get("fid_samples", 2000))
    image_shape = model.image_shape
    train, _ = real_images(config, "train", image_shape, limit)
    test, _ = real_images(config, "test", image_shape, limit)
    count = min(len(test), limit)
    generated = _generated(model, count, config.seed)
    keras.utils.set_random_seed(config.seed)  # As `runner.run` before building the model.
    untrained = _generated(type(model).from_config(model.get_config()), count, config.seed)
    results = {"fid_samples": count, "fid_train_images": len(train)}
    networks = {}
    classifier, accuracy = _classifier_features(config, image_shape, kwargs)
    if classifier is not None:
        networks["frechet_distance"] = classifier
        results["feature_classifier_accuracy"] = accuracy
    if kwargs.get("inception_weights"):
        networks["fid"] = fid.InceptionFeatures(kwargs["inception_weights"])
    for name, network in networks.items():
        reference = fid.compute_features(network, train)
        results[name] = frechet.frechet_distance_from_features(
            fid.compute_features(network, generated), reference)
        results[name + "_reference"] = frechet.frechet_distance_from_features(
            fid.compute_features(network, test[:count]), reference)
        results[name + "_untrained"] = frechet.frechet_distance_from_features(
            fid.compute_features(network, untrained), reference)
    return results


TASK = runner.Task(name="dcgan", build_model=build_model, compile_model=compile_model,
                   encoding=lambda model: "discrete", evaluate=evaluate)
