"""disCVAE's task: build it, feed it masks where the data has them, judge its layers.

`DisCVAETask` trains a `zoo.DisCVAE`. Training batches carry the foreground `mask`
whenever the dataset has masks (the built-in `shapes`), so that
`gate_supervision_weight` > 0 supervises the gate; on data without masks the
gate is learned from the likelihood alone (a warning says so when a weight
was asked for). Evaluation batches hold images and attributes only, so the
validation `loss` has no gate term.

The evaluation reports everything the CVAE's does (`zoo.tasks.cvae`) and,
on the held-out split, how well the layers split the image
(`zoo.metrics.layers`): the gate's IoU with the true foreground masks
(datasets with masks) and how much the background changes when only z_F is
redrawn.

References:
    Yan, Yang, Sohn & Lee (2016), Attribute2Image, ECCV.
"""

import dataclasses

from absl import logging

from zoo.metrics import layers
from zoo.models import discvae
from zoo.tasks import cvae as cvae_task
from zoo.train import task

__all__ = ["DisCVAEConfig", "DisCVAETask"]


@dataclasses.dataclass
class DisCVAEConfig(cvae_task.AttributeConfig):
    """A disCVAE run: `python -m recipes.discvae`."""
    model_dir: str = "runs/discvae"
    dataset: str = "shapes"
    epochs: int = 5
    likelihood: str = "discretized_logistic"
    foreground_dim: int = task.setting(12, "Size of z_F (the foreground's latents).",
                                       model=True)
    background_dim: int = task.setting(4, "Size of z_B (the background's latents).",
                                       model=True)
    gate_supervision_weight: float = task.setting(
        10.0, "Weight of the gate's per-example cross-entropy (summed over pixels, nats) "
        "against the true foreground mask, where the dataset has masks (shapes); 0: "
        "unsupervised. At 1 the likelihood's pull on the gate wins and the gate stays near "
        "a constant on shapes; 10 learns the masks.", model=True)

    def __post_init__(self):
        super().__post_init__()
        self.require_diagonal_posterior("discvae")


class DisCVAETask(cvae_task.CVAETask):
    """A `zoo.DisCVAE`: the CVAE's task with masks in training and the layers judged."""
    name = "discvae"
    config_class = DisCVAEConfig

    def build_model(self, source):
        config = self.config
        return discvae.DisCVAE(self.image_shape(source), foreground_dim=config.foreground_dim,
                               background_dim=config.background_dim,
                               gate_supervision_weight=config.gate_supervision_weight,
                               **cvae_task.attribute_arguments(config, source))

    def train_data(self, model, source):
        """Shuffled global batches, with `mask` where the data has masks."""
        keys = self.keys + (("mask",) if source.has_mask else ())
        if model.gate_supervision_weight > 0 and not source.has_mask:
            logging.warning("dataset %s has no foreground masks: gate_supervision_weight=%g "
                            "has no effect; the gate is learned unsupervised.",
                            self.config.dataset, model.gate_supervision_weight)
        return self.batches(model, source, training=True, keys=keys)

    def evaluate(self, model, data):
        """The CVAE's evaluation, gate IoU (with masks) and the background's stability."""
        results = super().evaluate(model, data)
        real = self.arrays(model, data.test, self.config.attribute_examples,
                           keys=self.keys + ("mask",))
        if "mask" in real:
            results.update(layers.gate_scores(model, real["image"], real["attributes"],
                                              real["mask"]))
        results.update(layers.background_change(model, real["attributes"],
                                                seed=self.config.seed))
        results.update(foreground_dim=model.foreground_dim, background_dim=model.background_dim,
                       gate_supervision_weight=model.gate_supervision_weight)
        return results

    def report(self, results):
        """The CVAE's lines, the gate's IoU and how the layers change."""
        lines = super().report(results)
        if "gate_iou" in results:
            lines.append(f"gate IoU with the true foreground masks: {results['gate_iou']:.3f} "
                         f"(a gate that calls everything foreground: "
                         f"{results['gate_iou_all_foreground']:.3f}), "
                         f"{results['gate_examples']} images")
        lines.append(f"mean |pixel change| when only z_F is redrawn: background "
                     f"{results['background_change_when_zF_changes']:.4f}, foreground "
                     f"{results['foreground_change_when_zF_changes']:.4f} (background when "
                     f"only z_B is redrawn: {results['background_change_when_zB_changes']:.4f})")
        return lines
