"""The CVAE's task: build it on a dataset's attributes, compile, evaluate.

`TASK` trains a `zoo.CVAE` on batches of {image, attributes}. Its evaluation
reports, on the held-out split:

- the test ELBO, reconstruction and KL (all test images) and the
  importance-weighted log p(x | y) on the first `importance_examples`
  (`zoo.metrics.likelihood`), in nats and bits/dim;
- attribute accuracy of generated images: an attribute classifier
  (`zoo.metrics.attributes`) is trained on real training images (cached in
  `MODEL_DIR/attribute_classifier.keras`), then reads images the model
  generates from the test set's attribute vectors with z ~ p(z). The
  classifier reads real images in one encoding, whatever the likelihood:
  pixel / 255 (`JUDGE_ENCODING`), for its training, the ceiling and chance;
  generated and manipulated images are the model's mean images in [0, 1].
  (The model itself is given the likelihood's encoding, e.g. binarized
  images under Bernoulli, which is what it was trained on.) Reported:
  the exact-match share (`attribute_accuracy`), per attribute, the same
  numbers for chance (the requests shuffled across real images) and for
  the real test images (the classifier's own accuracy, the ceiling);
- manipulation accuracy: test images encoded with their own attributes and
  decoded with one attribute group changed (a one-hot group moves to its
  next member, a binary attribute flips); the share the classifier reads
  as the new attributes;
- completion: the squared error on an occluded centre square (half the
  side) after `CVAE.complete`, against the plain reconstruction of the
  occluded image, and `MODEL_DIR/samples/completion.png` (per example:
  occluded input, its reconstruction, the completion, the original).

Dataset attributes: the `attributes` setting selects a subset of the
dataset's attributes by name (("all",): all of them).

References:
    Yan, Yang, Sohn & Lee (2016), Attribute2Image, ECCV.
"""

import dataclasses
import math
import os
from typing import Tuple

import numpy as np

from zoo import checks
from zoo import images as zoo_images
from zoo.data import catalog
from zoo.data import pipeline
from zoo.metrics import attributes as attribute_metrics
from zoo.metrics import likelihood
from zoo.models import cvae
from zoo.tasks import vae as vae_task
from zoo.train import task

__all__ = ["AttributeConfig", "CVAEConfig", "CVAETask", "JUDGE_ENCODING",
           "attribute_selection", "real_arrays", "load_arrays", "in_batches",
           "centre_occlusion", "attribute_classifier", "evaluate_likelihood",
           "evaluate_attributes", "manipulation_targets", "evaluate_completion", "evaluate",
           "report"]

_CLASSIFIER_FILE = "attribute_classifier.keras"

# How the attribute classifier sees real images: pixel / 255, for every likelihood.
# Binarized (or dequantized) copies would judge the ceiling and chance on images
# unlike those the classifier was trained on.
JUDGE_ENCODING = "discrete"


@dataclasses.dataclass
class AttributeConfig(vae_task.VAEFamilyConfig):
    """The settings the CVAE and the disCVAE share: attributes and their evaluation."""
    attributes: Tuple[str, ...] = task.setting(
        ("all",), "Attributes to condition on: 'all', or a comma-separated list of the "
        "dataset's attribute names (shapes: circle,square,triangle,red,green,blue,large; "
        "digits: 0..9; celeb_a: its 40, e.g. Male,Smiling).", model=True)
    encoder_hidden: int = task.setting(256, "Width of the encoder's image features.",
                                       model=True)
    importance_samples: int = task.setting(
        100, "K of the importance-weighted log-likelihood estimate (0: skip).",
        check=checks.non_negative_int)
    importance_examples: int = task.setting(
        256, "Test images the importance-weighted estimate is computed on.",
        check=checks.positive_int)
    attribute_examples: int = task.setting(
        1000, "Test attribute vectors to generate images from and judge.",
        check=checks.positive_int)
    classifier_examples: int = task.setting(
        10_000, "Real training images the attribute classifier learns from.",
        check=checks.positive_int)
    classifier_epochs: int = task.setting(5, "Epochs of the attribute classifier.",
                                          check=checks.positive_int)
    completion_steps: int = task.setting(100, "Adam steps on z for image completion.",
                                         check=checks.non_negative_int)

    def __post_init__(self):
        super().__post_init__()
        if not self.attributes or not all(self.attributes) or (
                "all" in self.attributes and self.attributes != ("all",)):
            raise ValueError(f"attributes={','.join(self.attributes)} must be 'all' or a "
                             "comma-separated list of attribute names.")


@dataclasses.dataclass
class CVAEConfig(AttributeConfig):
    """A CVAE run: `python -m recipes.cvae`."""
    model_dir: str = "runs/cvae"
    epochs: int = 50
    latent_dim: int = task.setting(16, "Size of z.", model=True)


def attribute_selection(config, source):
    """The attribute names the model conditions on, in the dataset's order.

    Raises:
        ValueError: the dataset has no attributes, or a requested name is not one.
    """
    if source.attribute_names is None:
        raise ValueError(f"dataset {config.dataset!r} has no attribute labels; use shapes, "
                         "digits or celeb_a")
    available = tuple(source.attribute_names)
    requested = config.attributes
    if requested == ("all",):
        return available
    unknown = [name for name in requested if name not in available]
    if unknown:
        raise ValueError(f"dataset {config.dataset!r} has no attributes {unknown}; "
                         f"it has {list(available)}")
    return tuple(name for name in available if name in requested)


def attribute_arguments(config, source):
    """The keyword arguments of a CVAE-family model for the source's (selected) attributes."""
    names = attribute_selection(config, source)
    return dict(attribute_dim=len(names), attribute_names=names,
                data_attribute_names=source.attribute_names,
                encoder_hidden=config.encoder_hidden, seed=config.seed,
                **vae_task.vae_arguments(config))


def real_arrays(model, dataset, max_examples, keys=("image", "attributes")):
    """Numpy arrays of the first `max_examples` of batched `dataset`.

    `image` stays as the pipeline encoded it (in [0, 1]); `attributes` are
    the model's (selected) attributes; other keys are as they come.
    """
    arrays, count = {key: [] for key in keys}, 0
    for batch in dataset:
        if count >= max_examples:
            break
        for key in keys:
            value = batch[key]
            if key == "attributes":
                value = model.select_attributes(value)
            arrays[key].append(np.asarray(value))
        count += len(arrays[keys[0]][-1])
    if not count:
        raise ValueError("The dataset is empty.")
    return {key: np.concatenate(values)[:max_examples] for key, values in arrays.items()}


def load_arrays(config, model, split, max_examples, keys=("image", "attributes"),
                encoding="discrete"):
    """The first `max_examples` of a split as numpy arrays (`real_arrays`).

    Images are resized to the model's and placed in [0, 1] by `encoding`;
    keys the split does not have (e.g. `mask`) are left out.
    """
    source = catalog.load(config.dataset, split, image_size=config.image_size,
                          data_dir=config.data_dir, manual_dir=config.manual_dir,
                          download=config.download)
    keys = tuple(key for key in keys if key in source.dataset.element_spec)
    dataset = pipeline.make_dataset(source, 256, encoding, training=False,
                                    image_size=model.image_shape[0],
                                    channels=model.image_shape[-1], keys=keys, cache=False)
    return real_arrays(model, dataset, max_examples, keys)


def attribute_classifier(model, config):
    """An attribute classifier trained on real training images (cached in the model dir).

    `config`: `classifier_examples` and `classifier_epochs`.
    """
    train = load_arrays(config, model, "train", config.classifier_examples,
                        encoding=JUDGE_ENCODING)
    path = os.path.join(config.model_dir, _CLASSIFIER_FILE) if config.model_dir else None
    return attribute_metrics.load_or_train_classifier(
        path, train["image"], train["attributes"], seed=config.seed,
        epochs=config.classifier_epochs)


def evaluate_likelihood(model, dataset, config):
    """The ELBO on every test batch; the importance-weighted bound on the first examples.

    `config`: `importance_samples` K (0 skips the bound) and
    `importance_examples`.
    """
    samples = config.importance_samples
    results = likelihood.evaluate_likelihood(model, dataset, num_samples=0,
                                             max_batches=config.eval_batches, seed=config.seed)
    if samples:
        batches = math.ceil(config.importance_examples / config.global_batch_size)
        if config.eval_batches is not None:
            batches = min(batches, config.eval_batches)
        bound = likelihood.evaluate_likelihood(model, dataset, num_samples=samples,
                                               max_batches=batches, seed=config.seed)
        results.update(log_likelihood=bound["log_likelihood"],
                       bits_per_dim=bound["bits_per_dim"], importance_samples=samples,
                       importance_examples=bound["num_examples"])
    return results


def in_batches(function, *arrays, batch_size=256):
    """np.concatenate of `function` applied to consecutive slices of `arrays`."""
    outputs = [np.asarray(function(*(a[start:start + batch_size] for a in arrays)))
               for start in range(0, len(arrays[0]), batch_size)]
    return np.concatenate(outputs)


def manipulation_targets(attributes, groups):
    """Attributes with one group changed per example: example i changes group i mod G.

    A one-hot group moves its 1 to the group's next member (cyclically); a
    binary attribute flips.

    Returns:
        (targets [N, A], changed group index per example [N]).
    """
    targets = np.array(attributes, np.float32, copy=True)
    changed = np.arange(len(targets)) % len(groups)
    for row, group_index in enumerate(changed):
        group = list(groups[group_index])
        if len(group) == 1:
            targets[row, group[0]] = 1.0 - float(targets[row, group[0]] > 0.5)
        else:
            current = int(np.argmax(targets[row, group]))
            targets[row, group] = 0.0
            targets[row, group[(current + 1) % len(group)]] = 1.0
    return targets, changed


def evaluate_attributes(model, classifier, real, judged_images, seed=0):
    """Attribute accuracy of generated and manipulated images, chance and the real ceiling.

    Args:
        model: a `zoo.CVAE`.
        classifier: an `AttributeClassifier` of the model's attributes.
        real: {"image": [N, H, W, C], "attributes": [N, A]} held-out real data, the
            images in the model's encoding (the manipulation encodes them).
        judged_images: the same N images in `JUDGE_ENCODING` (pixel / 255), the
            encoding the classifier was trained on; chance and the ceiling read these.
        seed: seed of the prior draws and of the shuffle for chance.
    """
    images, attributes = real["image"], real["attributes"]
    judged_images = np.asarray(judged_images, np.float32)
    if judged_images.shape != images.shape:
        raise ValueError(f"judged_images must have the real images' shape {images.shape}; "
                         f"got {judged_images.shape}.")
    names = list(model.attribute_names or map(str, range(model.attribute_dim)))
    generated = in_batches(
        lambda y, i: model.generate(y, seed=seed + int(i[0])), attributes,
        np.arange(len(attributes)))
    scores = attribute_metrics.attribute_match(classifier, generated, attributes)
    chance = attribute_metrics.chance_match(classifier, judged_images, attributes, seed=seed)
    ceiling = attribute_metrics.attribute_match(classifier, judged_images, attributes)
    targets, _ = manipulation_targets(attributes, classifier.groups)
    manipulated = in_batches(
        lambda x, y, t: model.decode(model.encode(x, y)[0], t), images, attributes, targets)
    manipulation = attribute_metrics.attribute_match(classifier, manipulated, targets)
    return {
        "attribute_accuracy": scores["exact_match"],
        "attribute_mean_accuracy": scores["mean_accuracy"],
        "attribute_accuracy_per_attribute": dict(zip(names, scores["per_attribute_accuracy"])),
        "attribute_chance": chance["exact_match"],
        "attribute_chance_mean_accuracy": chance["mean_accuracy"],
        "attribute_chance_per_attribute": dict(zip(names, chance["per_attribute_accuracy"])),
        "classifier_accuracy_on_real": ceiling["exact_match"],
        "classifier_mean_accuracy_on_real": ceiling["mean_accuracy"],
        "manipulation_accuracy": manipulation["exact_match"],
        "attribute_examples": int(len(attributes)),
        "attribute_groups": [[names[i] for i in group] for group in classifier.groups],
    }


def centre_occlusion(image_shape, batch):
    """known_mask [batch, H, W, 1]: 0 on a centre square of half the side, 1 elsewhere."""
    height, width = image_shape[:2]
    known = np.ones((batch, height, width, 1), np.float32)
    known[:, height // 4:height // 4 + height // 2, width // 4:width // 4 + width // 2] = 0.0
    return known


def evaluate_completion(model, real, config, count=64):
    """Squared error on an occluded centre square: completion vs plain reconstruction.

    Writes `MODEL_DIR/samples/completion.png` (columns: occluded input,
    reconstruction of it, completion, original) for the first 8 images.
    """
    count = min(count, len(real["image"]))
    images = real["image"][:count].astype(np.float32)
    attributes = real["attributes"][:count]
    known = centre_occlusion(model.image_shape, count)
    occluded = images * known + 0.5 * (1.0 - known)
    completed = model.complete(occluded, attributes, known,
                               steps=config.completion_steps).numpy()
    reconstructed = model.reconstruct(occluded, attributes).numpy()
    hole = np.broadcast_to(1.0 - known, images.shape)

    def hole_error(estimate):
        return float(np.sum(hole * (estimate - images) ** 2) / np.sum(hole))

    if config.model_dir:
        rows = np.stack([occluded, reconstructed, completed, images], 1)[:8]
        zoo_images.save_png(os.path.join(config.model_dir, "samples", "completion.png"),
                            zoo_images.image_grid(rows.reshape(-1, *model.image_shape),
                                                  columns=8))
    return {"completion_mse": hole_error(completed),
            "completion_mse_reconstruction": hole_error(reconstructed),
            "completion_examples": count}


def evaluate(model, dataset, config):
    """Likelihood, attribute accuracy, manipulation and completion of a CVAE."""
    results = evaluate_likelihood(model, dataset, config)
    real = real_arrays(model, dataset, config.attribute_examples)
    judged = load_arrays(config, model, "test", len(real["image"]), encoding=JUDGE_ENCODING)
    if not np.array_equal(judged["attributes"], real["attributes"]):
        raise ValueError("the test split's pixel / 255 copy is not in the evaluation "
                         "data's order; cannot judge the same images.")
    classifier = attribute_classifier(model, config)
    results.update(evaluate_attributes(model, classifier, real, judged["image"],
                                       seed=config.seed))
    results.update(evaluate_completion(model, real, config))
    results.update(attribute_names=list(model.attribute_names or []),
                   latent_dim=model.latent_dim)
    return results


def report(results):
    """The lines every Attribute2Image run ends with."""
    return likelihood.report_lines(results, given="y") + [
        f"attribute accuracy of generated images: {results['attribute_accuracy']:.3f} "
        f"(all attributes right; chance {results['attribute_chance']:.3f}, real test "
        f"images {results['classifier_accuracy_on_real']:.3f}); per attribute "
        f"{results['attribute_mean_accuracy']:.3f} (chance "
        f"{results['attribute_chance_mean_accuracy']:.3f}); "
        f"{results['attribute_examples']} images",
        f"attribute manipulation accuracy: {results['manipulation_accuracy']:.3f}",
        f"completion of an occluded centre: squared error {results['completion_mse']:.4f} "
        f"(plain reconstruction {results['completion_mse_reconstruction']:.4f})"]


class CVAETask(task.Task):
    """A `zoo.CVAE` on {image, attributes}, judged as in Attribute2Image."""
    name = "cvae"
    config_class = CVAEConfig
    keys = ("image", "attributes")

    def build_model(self, source):
        return cvae.CVAE(self.image_shape(source), latent_dim=self.config.latent_dim,
                         **attribute_arguments(self.config, source))

    def evaluate(self, model, data):
        return evaluate(model, data.test_batches, self.config)

    def report(self, results):
        return report(results)
