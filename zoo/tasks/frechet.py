"""Fréchet distances of a task's generated images, each beside its two references.

Shared by the tasks that judge samples (the DCGAN's, the VQ-VAE's and their
baselines): the distance of N generated images to up to `fid_samples` real
*training* images (the statistics FID is usually taken against), next to what
N held-out real *test* images score (a perfect generator) and what an
untrained copy of the generator scores (where training started). Features:

- `frechet_distance`: a small classifier trained on the dataset's own labels
  (`label`, or CelebA-style `attributes`), offline, kept in `directory`
  (`MODEL_DIR/fid`) so that every model of a run is judged by the same
  network. Not comparable to published FIDs.
- `fid`: the standard InceptionV3 features, when a weights file is given.
"""

import os

import keras
import numpy as np
from absl import logging

from zoo.metrics import fid

__all__ = ["real_images", "feature_classifier", "sample_distances", "report_lines",
           "sampler", "default_directory"]

_LABEL_KEYS = ("label", "attributes")


def real_images(task, model, source, limit, with_targets=False):
    """Up to `limit` images of `source` in [0, 1] (and labels or attributes, else None)."""
    spec = source.dataset.element_spec
    target = next((k for k in _LABEL_KEYS if k in spec), None) if with_targets else None
    keys = ("image",) + ((target,) if target else ())
    batches = list(task.batches(model, source, training=False, keys=keys,
                                encoding="discrete", batch_size=256).take(-(-limit // 256)))
    images = np.concatenate([batch["image"].numpy() for batch in batches])[:limit]
    if target is None:
        return images, None
    return images, np.concatenate([batch[target].numpy() for batch in batches])[:limit]


def feature_classifier(task, model, data, directory, epochs=None, examples=20_000):
    """(network, test accuracy) kept in `directory`, else trained on labelled images.

    (None, None) when the data has no labels.
    """
    cached = fid.ClassifierFeatures.load_cached(directory)
    if cached is not None:
        return cached[0], cached[1]["test_accuracy"]
    images, targets = real_images(task, model, data.train, examples, with_targets=True)
    if targets is None:
        return None, None
    test = real_images(task, model, data.test, 5_000, with_targets=True)
    epochs = epochs or int(np.clip(150_000 // len(images), 2, 15))
    logging.info("training the FID feature classifier on %d labelled images, %d epochs",
                 len(images), epochs)
    network, accuracy = fid.ClassifierFeatures.train(
        images, targets, epochs=epochs, seed=task.config.seed,
        validation=test if test[1] is not None else None)
    network.save_cached(directory, {"test_accuracy": accuracy,
                                    "train_examples": len(images), "epochs": epochs})
    return network, accuracy


def sample_distances(task, model, data, generate, directory, fid_samples,
                     classifier_epochs=None, inception_weights=None):
    """Fréchet distances of `generate(model, count)` images beside their references.

    Args:
        task: the task (its `batches` and `config.seed`).
        model: the trained model; an untrained copy is rebuilt from its config.
        data: the run's `Data`.
        generate: (model, count) -> [count, H, W, C] images in [0, 1].
        directory: where the feature classifier is kept (shared by a run's models).
        fid_samples: at most this many images per set.
        classifier_epochs: epochs of the feature classifier (default: by data size).
        inception_weights: an InceptionV3 no-top weights file, or None.

    Returns:
        `fid.frechet_with_references` under `frechet_distance` (with
        `feature_classifier_accuracy`, when the data has labels) and `fid`
        (with Inception weights), and `fid_samples`, `fid_train_images`.
    """
    train, _ = real_images(task, model, data.train, fid_samples)
    test, _ = real_images(task, model, data.test, fid_samples)
    count = len(test)
    generated = generate(model, count)
    keras.utils.set_random_seed(task.config.seed)  # As `runner.run` before building the model.
    untrained = generate(type(model).from_config(model.get_config()), count)
    results = {"fid_samples": count, "fid_train_images": len(train)}
    networks = {}
    classifier, accuracy = feature_classifier(task, model, data, directory, classifier_epochs)
    if classifier is not None:
        networks["frechet_distance"] = classifier
        results["feature_classifier_accuracy"] = accuracy
    if inception_weights:
        networks["fid"] = fid.InceptionFeatures(inception_weights)
    for name, network in networks.items():
        results.update(fid.frechet_with_references(network, train, generated, test,
                                                   untrained, name=name))
    return results


def report_lines(results, generator="generator"):
    """The Fréchet distances of `sample_distances`, each beside its references."""
    count, train = results["fid_samples"], results["fid_train_images"]
    lines = ["Fréchet distance: no labels to train the offline feature network on; pass "
             "--inception_weights for the standard FID."]
    if "frechet_distance" in results:
        lines = [f"Fréchet distance (classifier features, {count} generated vs {train} real "
                 f"training images): {results['frechet_distance']:.2f}; untrained {generator} "
                 f"{results['frechet_distance_untrained']:.2f}; {count} real test images "
                 f"score {results['frechet_distance_reference']:.2f}"]
    if "fid" in results:
        lines.append(f"FID (InceptionV3 pool features): {results['fid']:.2f}; untrained "
                     f"{generator} {results['fid_untrained']:.2f}; real test images score "
                     f"{results['fid_reference']:.2f}")
    return lines


def sampler(seed, data, batch_size=250):
    """(model, count) -> `count` images of `model.sample`, `batch_size` at a time.

    A conditional model (`model.conditional`, as `VQVAEWithPrior`) samples
    with the attributes of the first `count` test images, so that the classes
    are as frequent as in the real images.
    """

    def generate(model, count):
        attributes = None
        if getattr(model, "conditional", False):
            attributes = next(iter(data.test_batches.unbatch().batch(count)))["attributes"]
        return np.concatenate([
            keras.ops.convert_to_numpy(model.sample(
                min(batch_size, count - start), seed=seed + start,
                **({} if attributes is None else
                   {"attributes": attributes[start:start + batch_size]})))
            for start in range(0, count, batch_size)])
    return generate


def default_directory(config):
    """MODEL_DIR/fid: where a run keeps its feature classifier."""
    return os.path.join(config.model_dir, "fid")
