"""Image completion: how well a conditional model fills an occluded centre square.

The centre square of half the side is hidden (`centre_occlusion`) and filled
with grey (1/2); the model completes the image from the visible pixels and
the attributes (`CVAE.complete`: z is optimised to maximise
log p(x_visible | z, y) + log p(z), then decoded), as in Attribute2Image's
attribute-conditioned completion. The score is the mean squared error on
the hidden pixels,

    hole error = sum_i (1 - m_i) (xhat_i - x_i)^2 / sum_i (1 - m_i),

for the completion and, for comparison, for the plain reconstruction of the
occluded image (the posterior mean decoded), which sees the grey square as
data.

References:
    Yan, X., Yang, J., Sohn, K. and Lee, H. (2016). Attribute2Image:
    Conditional Image Generation from Visual Attributes. ECCV.
"""

import numpy as np

__all__ = ["centre_occlusion", "hole_error", "completion_scores"]


def centre_occlusion(image_shape, batch):
    """known_mask [batch, H, W, 1]: 0 on a centre square of half the side, 1 elsewhere."""
    height, width = image_shape[:2]
    known = np.ones((batch, height, width, 1), np.float32)
    known[:, height // 4:height // 4 + height // 2, width // 4:width // 4 + width // 2] = 0.0
    return known


def hole_error(estimate, images, known):
    """Mean squared error of `estimate` against `images` where `known` is 0."""
    hole = np.broadcast_to(1.0 - np.asarray(known), np.shape(images))
    return float(np.sum(hole * (np.asarray(estimate) - images) ** 2) / np.sum(hole))


def completion_scores(model, images, attributes, steps=100):
    """Hole errors of the completion and of the plain reconstruction of occluded images.

    Args:
        model: a conditional model with `complete(images, attributes,
            known_mask, steps=)` and `reconstruct(images, attributes)` (a `zoo.CVAE`).
        images: [N, H, W, C] in the model's encoding.
        attributes: [N, A] their attributes.
        steps: optimisation steps of the completion.

    Returns:
        (scores, panels): scores {`completion_mse`, `completion_mse_reconstruction`,
        `completion_examples`}; panels [N, 4, H, W, C], per image the occluded
        input, its reconstruction, the completion and the original.
    """
    images = np.asarray(images, np.float32)
    known = centre_occlusion(images.shape[1:], len(images))
    occluded = images * known + 0.5 * (1.0 - known)
    completed = np.asarray(model.complete(occluded, attributes, known, steps=steps))
    reconstructed = np.asarray(model.reconstruct(occluded, attributes))
    scores = {"completion_mse": hole_error(completed, images, known),
              "completion_mse_reconstruction": hole_error(reconstructed, images, known),
              "completion_examples": len(images)}
    return scores, np.stack([occluded, reconstructed, completed, images], 1)
