"""The CVAE's task: build it on a dataset's attributes, compile, evaluate.

`CVAETask` trains a `zoo.CVAE` on {image, attributes} (the `attributes`
setting picks some by name) and judges it on the test split: ELBO and
importance-weighted log p(x | y) (`zoo.metrics.likelihood`); attribute
accuracy of generated and manipulated images, read by a classifier of real
training images cached in `MODEL_DIR/attribute_classifier.keras`
(`zoo.metrics.attributes`); completion of an occluded centre
(`zoo.metrics.completion`), drawn in `MODEL_DIR/samples/completion.png`.

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
from zoo.metrics import attributes as attribute_metrics
from zoo.metrics import completion
from zoo.metrics import likelihood
from zoo.models import cvae
from zoo.tasks import vae as vae_task
from zoo.train import task

__all__ = ["AttributeConfig", "CVAEConfig", "CVAETask", "JUDGE_ENCODING",
           "attribute_selection", "attribute_arguments"]

_CLASSIFIER_FILE = "attribute_classifier.keras"

# How the attribute classifier sees real images: pixel / 255, for every likelihood.
# Binarized (or dequantized) copies would judge the ceiling and chance on images
# unlike those the classifier was trained on. (The model reads its likelihood's
# encoding; the images it makes are its mean images.)
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


class CVAETask(task.Task):
    """A `zoo.CVAE` on {image, attributes}, judged as in Attribute2Image."""
    name = "cvae"
    config_class = CVAEConfig
    keys = ("image", "attributes")

    def build_model(self, source):
        return cvae.CVAE(self.image_shape(source), latent_dim=self.config.latent_dim,
                         **attribute_arguments(self.config, source))

    def arrays(self, model, source, count, keys=None, encoding=None):
        """The first `count` examples of `source` as numpy arrays, batched as for `model`.

        Images in [0, 1] by `encoding` (default: the model's); `attributes`
        are the model's selection; keys (default: the task's) that the source
        does not have, e.g. `mask`, are left out.
        """
        keys = tuple(key for key in keys or self.keys if key in source.dataset.element_spec)
        first = dataclasses.replace(source, dataset=source.dataset.take(count),
                                    num_examples=min(count, source.num_examples or count))
        batches = list(self.batches(model, first, training=False, keys=keys,
                                    encoding=encoding))
        if not batches:
            raise ValueError(f"The {source.name} split is empty.")
        arrays = {key: np.concatenate([batch[key] for batch in batches]) for key in keys}
        if "attributes" in arrays:
            arrays["attributes"] = np.asarray(model.select_attributes(arrays["attributes"]))
        return arrays

    def likelihood_results(self, model, data):
        """The ELBO on every test batch; the importance-weighted bound on the first examples."""
        config, samples = self.config, self.config.importance_samples
        results = likelihood.evaluate_likelihood(model, data.test_batches, num_samples=0,
                                                 max_batches=config.eval_batches,
                                                 seed=config.seed)
        if samples:
            batches = math.ceil(config.importance_examples / config.global_batch_size)
            bound = likelihood.evaluate_likelihood(
                model, data.test_batches, num_samples=samples, seed=config.seed,
                max_batches=min(batches, config.eval_batches or batches))
            results.update(log_likelihood=bound["log_likelihood"],
                           bits_per_dim=bound["bits_per_dim"], importance_samples=samples,
                           importance_examples=bound["num_examples"])
        return results

    def classifier(self, model, source):
        """The attribute classifier of real training images (cached in the model dir)."""
        config = self.config
        train = self.arrays(model, source, config.classifier_examples, encoding=JUDGE_ENCODING)
        path = os.path.join(config.model_dir, _CLASSIFIER_FILE) if config.model_dir else None
        return attribute_metrics.load_or_train_classifier(
            path, train["image"], train["attributes"], seed=config.seed,
            epochs=config.classifier_epochs)

    def evaluate(self, model, data):
        """Likelihood, attribute accuracy, manipulation and completion of a CVAE."""
        config = self.config
        results = self.likelihood_results(model, data)
        real = self.arrays(model, data.test, config.attribute_examples)
        judged = self.arrays(model, data.test, config.attribute_examples,
                             encoding=JUDGE_ENCODING)
        classifier = self.classifier(model, data.train)
        results.update(attribute_metrics.generation_scores(
            model, classifier, real["attributes"], judged["image"], seed=config.seed))
        results.update(attribute_metrics.manipulation_scores(
            model, classifier, real["image"], real["attributes"]))
        scores, panels = completion.completion_scores(
            model, real["image"][:64], real["attributes"][:64], steps=config.completion_steps)
        results.update(scores)
        if config.model_dir:
            zoo_images.save_png(os.path.join(config.model_dir, "samples", "completion.png"),
                                zoo_images.image_grid(
                                    panels[:8].reshape(-1, *model.image_shape), columns=8))
        results.update(attribute_names=list(model.attribute_names or []),
                       latent_dim=model.latent_dim)
        return results

    def report(self, results):
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
