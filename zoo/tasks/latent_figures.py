"""The latent-space figures a VAE run ends with: interpolations, traversals, attribute vectors.

On a few hundred held-out images (`held_out_batch`), `write_latent_figures`
draws with `zoo.models.latent_tools` (docs/latents.md):

    MODEL_DIR/latents/interpolation.png     per test pair (x_a, x_b), a linear
                                            then a spherical row (White 2016),
                                            from x_a's reconstruction to x_b's;
    MODEL_DIR/latents/traversal.png         a row per latent dimension, by
                                            average KL to the prior, largest
                                            first, the first image's code with
                                            that dimension at prior_mean + v *
                                            prior_std, v in -2.5 .. 2.5;
    MODEL_DIR/latents/attribute_vectors.png where the data has `attributes` or
                                            a `label`: a row per attribute (at
                                            most 8), a test image without it,
                                            decoded at z + s v, s = 0 .. 2
                                            (Hou et al. 2017, Sec. 4.3),

and the same grids as TensorBoard images in MODEL_DIR/logs/latents.

References:
    White, T. (2016). Sampling Generative Networks. arXiv 1609.04468.
    Hou, X., Shen, L., Sun, K. and Qiu, G. (2017). Deep Feature Consistent
        Variational Autoencoder. arXiv 1610.00291.
"""

import dataclasses
import os

import numpy as np
import tensorflow as tf

from zoo import images as zoo_images
from zoo.models import latent_tools

__all__ = ["held_out_batch", "write_latent_figures", "report_line", "STRENGTHS"]

STRENGTHS = (0.0, 0.5, 1.0, 1.5, 2.0)
_LABEL_KEYS = ("attributes", "label")


def held_out_batch(task, model, source, count=256):
    """The first `count` examples of `source` as numpy, in the model's encoding.

    Keeps `image` and, where the source has them, `attributes` and `label`.
    """
    keys = ("image",) + tuple(key for key in _LABEL_KEYS if key in source.dataset.element_spec)
    first = dataclasses.replace(source, dataset=source.dataset.take(count),
                                num_examples=min(count, source.num_examples or count))
    # One batch; read to the end, so that the pipeline's cache is complete (no warning).
    batches = list(task.batches(model, first, training=False, keys=keys, batch_size=count))
    if not batches:
        raise ValueError(f"The {source.name} test split is empty.")
    return {key: value.numpy() for key, value in batches[0].items()}


def _labelled(batch, attribute_names, max_attributes):
    """(names, has [N, A]) of up to `max_attributes` attributes seen with and without."""
    if not any(key in batch for key in _LABEL_KEYS):
        return (), np.zeros((len(batch["image"]), 0), bool)
    names = attribute_names if "attributes" in batch else None
    names, has = latent_tools.labelled_attributes(batch, names=names)
    usable = [i for i in range(has.shape[1]) if 0 < has[:, i].sum() < len(has)]
    usable = usable[:max_attributes]
    return tuple(names[i] for i in usable), has[:, usable]


def write_latent_figures(model, batch, model_dir, step, attribute_names=None, pairs=8,
                         steps=8, max_dims=16, max_attributes=8):
    """Writes the three grids as PNG and TensorBoard images; returns the results entries.

    Args:
        model: a model with `zoo.models.latent_tools.LatentTools` (every `zoo.VAE`).
        batch: `held_out_batch` output: {image, attributes?, label?} numpy.
        model_dir: the run's folder.
        step: the TensorBoard step (the epochs trained).
        attribute_names: names of `attributes` (default "0", "1", ...).
        pairs: interpolated pairs (images 0..pairs-1 to pairs..2 pairs-1).
        steps: images per interpolation row.
        max_dims: traversal rows, the dimensions of largest KL.
        max_attributes: attribute-vector rows.

    Returns:
        dict: `kl_per_dimension` (nats, per dimension in order),
        `traversal_dims` (the rows' dimensions), `interpolation_png`,
        `traversal_png` and, with labels, `attribute_vectors_png` and
        `attribute_vector_names`.
    """
    images = batch["image"]
    shape = images.shape[1:]
    kl = model.mean_kl_per_dimension(images)
    dims = np.argsort(-kl, kind="stable")[:max_dims]
    grids = {}
    pairs = min(pairs, len(images) // 2)
    if pairs:
        rows = np.stack([model.interpolate(images[:pairs], images[pairs:2 * pairs], steps,
                                           method) for method in latent_tools.INTERPOLATIONS],
                        axis=1)                                     # [P, 2, steps, H, W, C]
        grids["interpolation"] = zoo_images.image_grid(rows.reshape(-1, *shape),
                                                       columns=steps)
    traversal = model.traverse(images, dims=dims)
    grids["traversal"] = zoo_images.image_grid(traversal.reshape(-1, *shape),
                                               columns=traversal.shape[1])
    names, has = _labelled(batch, attribute_names, max_attributes)
    if names:
        rows = []
        for column in range(has.shape[1]):
            vector = model.attribute_vector(images, has[:, column])
            without = np.flatnonzero(~has[:, column])
            shown = int(without[column % len(without)])  # A different image per row.
            rows.append(model.add_attribute_vector(images[shown:shown + 1], vector,
                                                   STRENGTHS)[0])
        grids["attribute_vectors"] = zoo_images.image_grid(
            np.concatenate(rows), columns=len(STRENGTHS))
    results = {"kl_per_dimension": [float(value) for value in kl],
               "traversal_dims": [int(dim) for dim in dims]}
    if names:
        results["attribute_vector_names"] = list(names)
    directory = os.path.join(model_dir, "latents")
    writer = tf.summary.create_file_writer(os.path.join(model_dir, "logs", "latents"))
    with writer.as_default():
        for name, grid in grids.items():
            path = os.path.join(directory, f"{name}.png")
            zoo_images.save_png(path, grid)
            results[f"{name}_png"] = path
            tf.summary.image(name, grid[None], step=step)
    writer.close()
    return results


def report_line(results):
    """One line: the KL of the most active dimensions and where the figures are."""
    kl = sorted(results["kl_per_dimension"], reverse=True)
    shown = ", ".join(f"{value:.2f}" for value in kl[:8]) + (", ..." if len(kl) > 8 else "")
    figures = [results[key] for key in ("interpolation_png", "traversal_png",
                                        "attribute_vectors_png") if key in results]
    return (f"latents: KL per dimension {shown} nats (largest first; "
            f"{sum(value > 0.01 for value in kl)} of {len(kl)} above 0.01); figures "
            f"{', '.join(figures)}")
