"""A layered model's layers: does the gate find the foreground, does z_B own the background?

disCVAE (Yan et al. 2016) composes an image from a foreground
(drawn from y and z_F), a background (from z_B) and a gate g in [0, 1]:

    x = g * foreground + (1 - g) * background.

Two checks of that split:

- Gate IoU (`gate_iou`, `gate_scores`): where the true foreground masks are
  known, the intersection over union (Everingham et al. 2010) of the gate of
  the reconstruction (g > 1/2) with the mask, per image, averaged; a gate
  calling every pixel foreground is the baseline.
- Background change (`background_change`): the mean absolute change of the
  composite on the background (pixels where both gates are below 1/2) and
  on the foreground when only z_F is redrawn, with z_B and y kept. A clean
  split changes the background little; for scale, the background change when
  only z_B is redrawn.

References:
    Yan, X., Yang, J., Sohn, K. and Lee, H. (2016). Attribute2Image:
    Conditional Image Generation from Visual Attributes. ECCV.
    Everingham, M., Van Gool, L., Williams, C. K. I., Winn, J. and
    Zisserman, A. (2010). The PASCAL Visual Object Classes (VOC) Challenge. IJCV.
"""

import numpy as np

from zoo.metrics.attributes import in_batches

__all__ = ["gate_iou", "gate_scores", "background_change"]


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


def gate_scores(model, images, attributes, masks):
    """Mean `gate_iou` of the reconstructions' gates and of an all-foreground gate.

    Args:
        model: a layered model with `reconstruct_layers(x, y)["gate"]` (a `zoo.DisCVAE`).
        images: [N, H, W, C] in the model's encoding.
        attributes: [N, A] their attributes.
        masks: [N, H, W, 1] their true foreground masks.

    Returns:
        dict: `gate_iou`, `gate_iou_all_foreground`, `gate_examples`.
    """
    gates = in_batches(lambda x, y: model.reconstruct_layers(x, y)["gate"], images,
                       attributes)
    return {"gate_iou": float(np.mean(gate_iou(gates, masks))),
            "gate_iou_all_foreground": float(np.mean(gate_iou(np.ones_like(gates), masks))),
            "gate_examples": int(len(masks))}


def background_change(model, attributes, seed=0):
    """Mean |change| of the composite, background vs foreground, when only z_F is redrawn.

    For each y, z = [z_F, z_B] ~ p(z) (seed `seed`); z_F' and z_B' are
    independent redraws (seed `seed + 1`).

    Args:
        model: a layered model with `prior_latents(count, seed)`,
            `foreground_dim` and `image_layers(y, z)` (a `zoo.DisCVAE`).
        attributes: [N, A] attribute vectors.
        seed: seed of the prior draws.

    Returns:
        dict: `background_change_when_zF_changes`,
        `foreground_change_when_zF_changes`, `background_change_when_zB_changes`.
    """
    attributes = np.asarray(attributes, np.float32)
    first = model.prior_latents(len(attributes), seed).numpy()
    second = model.prior_latents(len(attributes), seed + 1).numpy()
    split = model.foreground_dim
    new_foreground = np.concatenate([second[:, :split], first[:, split:]], axis=1)
    new_background = np.concatenate([first[:, :split], second[:, split:]], axis=1)

    def image_and_gate(y, z):
        layers = model.image_layers(y, z)
        return {"image": layers["image"], "gate": layers["gate"]}

    base, moved, rebackground = (in_batches(image_and_gate, attributes, latents)
                                 for latents in (first, new_foreground, new_background))

    def mean_change(other, where):
        where = np.broadcast_to(where, base["image"].shape)
        change = np.abs(other["image"] - base["image"])
        return float(np.sum(change * where) / max(np.sum(where), 1.0))

    background = (base["gate"] < 0.5) & (moved["gate"] < 0.5)
    return {"background_change_when_zF_changes": mean_change(moved, background),
            "foreground_change_when_zF_changes": mean_change(moved, ~background),
            "background_change_when_zB_changes": mean_change(
                rebackground, (base["gate"] < 0.5) & (rebackground["gate"] < 0.5))}
