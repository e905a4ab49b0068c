r"""Images from any recipe's trained run (`zoo.load_run`): `python -m recipes.sample`.

    python -m recipes.sample --model_dir=runs/cvae --attributes=7 --num_samples=16
    python -m recipes.sample --model_dir=runs/vae --reconstruct=folder:my_digits

Writes OUTPUT_DIR/sample_000.png, ... (prior draws from --seed) and grid.png;
with --reconstruct (autoencoders), reconstruction_000.png, ... of the folder's
first images and grid.png of (input, reconstruction) pairs. The CVAE and
disCVAE need --attributes: the names set to 1, the others 0. There is no
'random': independent draws break one-hot groups (a digit's class).
"""

import os
import sys

import numpy as np
from absl import app
from absl import flags

import zoo
from zoo import images as zoo_images
from zoo.data import folder
from zoo.data import pipeline

FLAGS = flags.FLAGS
flags.DEFINE_string("model_dir", None, "Model directory of a run of a recipe.")
flags.DEFINE_integer("num_samples", 64, "Images to write.", lower_bound=1)
flags.DEFINE_integer("seed", 0, "Seed of the prior draws.")
flags.DEFINE_string("output_dir", None, "Where the PNG files go; default MODEL_DIR/generated.")
flags.DEFINE_list("attributes", None, "CVAE, disCVAE: attribute names set to 1 (others 0).")
flags.DEFINE_string("reconstruct", None, "folder:PATH: reconstruct its images (autoencoders).")
flags.mark_flag_as_required("model_dir")


def attributes(model):
    """[num_samples, A] from --attributes for a conditional model, else None."""
    kind = type(model).__name__
    if not hasattr(model, "attribute_dim"):
        if FLAGS.attributes is not None:
            raise ValueError(f"--attributes: a {kind} is not conditioned on attributes.")
        return None
    if FLAGS.attributes is None:
        raise ValueError(f"a {kind} needs --attributes=NAME,... (set to 1, others 0); its "
                         f"attributes: {','.join(model.attribute_names or ())}.")
    vector = np.zeros([1, model.attribute_dim], np.float32)
    vector[0, [model.attribute_index(name) for name in FLAGS.attributes]] = 1.0
    return np.repeat(vector, FLAGS.num_samples, axis=0)


def images(model, conditions):
    """(file name prefix, images [N, H, W, C], grid) of what the flags ask for."""
    if FLAGS.reconstruct is None:
        drawn = np.asarray(model.sample(FLAGS.num_samples, seed=FLAGS.seed) if conditions is None
                           else model.generate(conditions, seed=FLAGS.seed))
        return "sample", drawn, zoo_images.image_grid(drawn)
    if not hasattr(model, "reconstruct"):
        raise ValueError(f"--reconstruct: a {type(model).__name__} is not an autoencoder.")
    path = FLAGS.reconstruct.removeprefix("folder:")
    if path in (FLAGS.reconstruct, ""):
        raise ValueError(f"--reconstruct={FLAGS.reconstruct} must be folder:PATH.")
    size, _, channels = model.image_shape
    source = folder.load(path, image_size=size, channels=channels, test_fraction=0.0)
    pixels = np.stack([e["image"] for e in source.dataset.take(FLAGS.num_samples)])
    inputs = pipeline.encode_images(pixels, model.likelihood.data_encoding)  # As trained on.
    outputs = np.asarray(model.reconstruct(inputs) if conditions is None
                         else model.reconstruct(inputs, conditions[:len(pixels)]))
    pairs = np.stack([inputs, outputs], 1).reshape([-1, *outputs.shape[1:]])
    return "reconstruction", outputs, zoo_images.image_grid(pairs, columns=8)


def main(argv):
    del argv
    output_dir = FLAGS.output_dir or os.path.join(FLAGS.model_dir, "generated")
    try:
        model = zoo.load_run(FLAGS.model_dir)
        prefix, written, grid = images(model, attributes(model))
        for index, image in enumerate(written):
            zoo_images.save_png(os.path.join(output_dir, f"{prefix}_{index:03d}.png"),
                                zoo_images.image_grid(image[None], padding=0))
        zoo_images.save_png(os.path.join(output_dir, "grid.png"), grid)
    except (OSError, ValueError) as error:
        sys.exit(f"error: {error}")
    print(f"wrote {len(written)} images ({prefix}_NNN.png) and grid.png to {output_dir}")


if __name__ == "__main__":
    app.run(main)
