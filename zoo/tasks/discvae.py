"""disCVAE's task: build it, feed it masks where the data has them, judge its layers.

`DisCVAETask` trains a `zoo.DisCVAE`. Training batches carry the foreground `mask`
whenever the dataset has masks (the built-in `shapes`), so that
`gate_supervision_weight` > 0 supervises the gate; on data without masks the
gate is learned from the likelihood alone (a warning says so when a weight
was asked for). Evaluation batches hold images and attributes only, so the
validation `loss` has no gate term.

The evaluation reports everything the CVAE's does (`zoo.tasks.cvae`) and,
on the held-out split:

- `gate_iou`: the mean over test images of the intersection-over-union
  between the gate of the reconstruction (posterior mean, g > 1/2) and the
  true foreground mask, with `gate_iou_all_foreground`, the IoU of a gate
  that calls every pixel foreground, for comparison (datasets with masks);
- how the composite changes when only z_F is redrawn (z_B and y kept):
  the mean absolute pixel change on the background (pixels where both
  gates are below 1/2; `background_change_when_zF_changes`) and on the
  foreground (`foreground_change_when_zF_changes`), and, for scale, the
  background change when only z_B is redrawn
  (`background_change_when_zB_changes`).

References:
    Yan, Yang, Sohn & Lee (2016), Attribute2Image, ECCV.
"""

import dataclasses

import numpy as np
from absl import logging

from zoo.models import discvae
from zoo.tasks import cvae as cvae_task
from zoo.train import task

__all__ = ["DisCVAEConfig", "DisCVAETask", "gate_iou", "evaluate_gate",
           "evaluate_background_change", "evaluate"]


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


def gate_iou(gates, masks, threshold=0.5):
    """Per-image intersection-over-union of thresholded gates and masks.

    Args:
        gates: [N, H, W, 1] in [0, 1].
        masks: [N, H, W, 1], 1 on the foreground.
        threshold: a pixel is foreground where gate > threshold.

    Returns:
        [N] float64; an image where both are empty counts as 1.
    """
    predicted = np.asarray(gates) > threshold
    truth = np.asarray(masks) > 0.5
    intersection = np.sum(predicted & truth, axis=(1, 2, 3))
    union = np.sum(predicted | truth, axis=(1, 2, 3))
    return np.where(union > 0, intersection / np.maximum(union, 1), 1.0)


def evaluate_gate(model, real):
    """`gate_iou` of reconstructions and of an all-foreground gate, averaged."""
    gates = cvae_task.in_batches(
        lambda x, y: model.reconstruct_layers(x, y)["gate"], real["image"],
        real["attributes"])
    masks = real["mask"]
    return {"gate_iou": float(np.mean(gate_iou(gates, masks))),
            "gate_iou_all_foreground": float(np.mean(gate_iou(np.ones_like(gates), masks))),
            "gate_examples": int(len(masks))}


def evaluate_background_change(model, attributes, seed=0):
    """Mean |change| of the composite, background vs foreground, when only z_F is redrawn.

    For each y, z = [z_F, z_B] ~ p(z); z_F' and z_B' are independent
    redraws. Background pixels are those whose gates are below 1/2 in both
    images compared.
    """
    attributes = np.asarray(attributes, np.float32)
    count = len(attributes)
    first = model.prior_latents(count, seed).numpy()
    second = model.prior_latents(count, seed + 1).numpy()
    split = model.foreground_dim
    new_foreground = np.concatenate([second[:, :split], first[:, split:]], axis=1)
    new_background = np.concatenate([first[:, :split], second[:, split:]], axis=1)

    def image_layers(latents):
        out = {"image": [], "gate": []}
        for start in range(0, count, 256):
            decoded = model.image_layers(attributes[start:start + 256],
                                         latents[start:start + 256])
            out["image"].append(decoded["image"].numpy())
            out["gate"].append(decoded["gate"].numpy())
        return {key: np.concatenate(value) for key, value in out.items()}

    base, moved, rebackground = (image_layers(first), image_layers(new_foreground),
                                 image_layers(new_background))

    def mean_change(other, where):
        where = np.broadcast_to(where, base["image"].shape)
        change = np.abs(other["image"] - base["image"])
        return float(np.sum(change * where) / max(np.sum(where), 1.0))

    background = (base["gate"] < 0.5) & (moved["gate"] < 0.5)
    return {"background_change_when_zF_changes": mean_change(moved, background),
            "foreground_change_when_zF_changes": mean_change(moved, ~background),
            "background_change_when_zB_changes": mean_change(
                rebackground, (base["gate"] < 0.5) & (rebackground["gate"] < 0.5))}


def evaluate(model, dataset, config):
    """The CVAE's evaluation, gate IoU (with masks) and the background's stability."""
    results = cvae_task.evaluate(model, dataset, config)
    real = cvae_task.load_arrays(config, model, "test", config.attribute_examples,
                                 keys=("image", "attributes", "mask"),
                                 encoding=model.likelihood.data_encoding)
    if "mask" in real:
        results.update(evaluate_gate(model, real))
    results.update(evaluate_background_change(model, real["attributes"], seed=config.seed))
    results.update(foreground_dim=model.foreground_dim, background_dim=model.background_dim,
                   gate_supervision_weight=model.gate_supervision_weight)
    return results


def report(results):
    """The CVAE's lines, the gate's IoU and how the layers change."""
    lines = cvae_task.report(results)
    if "gate_iou" in results:
        lines.append(f"gate IoU with the true foreground masks: {results['gate_iou']:.3f} (a "
                     f"gate that calls everything foreground: "
                     f"{results['gate_iou_all_foreground']:.3f}), {results['gate_examples']} "
                     "images")
    lines.append(f"mean |pixel change| when only z_F is redrawn: background "
                 f"{results['background_change_when_zF_changes']:.4f}, foreground "
                 f"{results['foreground_change_when_zF_changes']:.4f} (background when only "
                 f"z_B is redrawn: {results['background_change_when_zB_changes']:.4f})")
    return lines


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
        return evaluate(model, data.test_batches, self.config)

    def report(self, results):
        return report(results)
