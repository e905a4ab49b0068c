"""The DCGAN's task: build it from a run configuration, compile both optimizers, judge samples.

Evaluation reports Fréchet distances (`zoo.tasks.frechet`; `zoo.metrics.frechet` on the features
of `zoo.metrics.fid`) between generated and real images, each next to two
references: the same distance for *held-out real* images (what a perfect
generator would score with the same sample sizes) and for a freshly
initialised generator of the same architecture (what training started from):

- `frechet_distance`: features of a small classifier trained on the
  dataset's own labels (`label`, or CelebA-style `attributes`), offline. The
  network is trained once per model directory and kept in
  `MODEL_DIR/fid/classifier.keras`. Not comparable to published FIDs.
- `fid`: the standard InceptionV3 features, only when the
  `inception_weights` setting names a weights file.

Both compare N generated images, and for the reference N real *test* images,
with up to `fid_samples` real *training* images (the statistics FID is usually
taken against), N = min(test images, `fid_samples`).
"""

import dataclasses
import os
from typing import Optional

import numpy as np
import tensorflow as tf

from zoo import checks
from zoo.models import gan
from zoo.tasks import frechet
from zoo.tasks import gan as gan_task
from zoo.train import task

__all__ = ["DCGANConfig", "DCGANTask"]

@dataclasses.dataclass
class DCGANConfig(gan_task.GANConfig):
    """A DCGAN run: `python -m recipes.dcgan`."""
    model_dir: str = "runs/dcgan"
    epochs: int = 60
    base_filters: int = task.setting(64, "Filters of the discriminator's first convolution.",
                                     model=True)
    fid_samples: int = task.setting(
        2000, "At most this many images per set for the Fréchet distances.",
        check=checks.positive_int)
    fid_classifier_epochs: Optional[int] = task.setting(
        None, "Epochs of the offline feature classifier (default: by dataset size, 2 to 15).",
        check=checks.positive_int)
    inception_weights: Optional[str] = task.setting(
        None, "Keras InceptionV3 no-top weights file for the standard FID (never "
        "downloaded).")

    def __post_init__(self):
        super().__post_init__()
        if self.global_batch_size % self.d_steps:
            raise ValueError(f"batch_size={self.global_batch_size} must be a multiple of "
                             f"d_steps={self.d_steps}: each discriminator step takes "
                             "batch_size / d_steps real images.")
        if self.inception_weights is not None and not os.path.isfile(self.inception_weights):
            raise ValueError(f"inception_weights={self.inception_weights} is not a file; pass "
                             "an InceptionV3 no-top weights file.")


class DCGANTask(gan_task.GANTask):
    """A `zoo.DCGAN` with Adam for each player, judged by Fréchet distances."""
    name = "dcgan"
    config_class = DCGANConfig

    def build_model(self, source):
        config = self.config
        return gan.DCGAN(self.image_shape(source), latent_dim=config.latent_dim,
                         objective=config.objective(), base_filters=config.base_filters,
                         d_steps=config.d_steps, ema_decay=config.ema_decay, seed=config.seed)

    def encoding(self, model):
        return "discrete"

    def fid_directory(self):
        """Where the feature classifier is kept (MODEL_DIR/fid)."""
        return frechet.default_directory(self.config)

    def evaluate(self, model, data):
        """Fréchet distances of generated images beside their references (module docstring).

        Returns:
            `zoo.tasks.frechet.sample_distances` of the generator's images.
        """
        config = self.config
        return frechet.sample_distances(
            self, model, data, lambda generator, count: _generated(generator, count, config.seed),
            self.fid_directory(), config.fid_samples, config.fid_classifier_epochs,
            config.inception_weights)

    def report(self, results):
        """The Fréchet distances, each beside its references."""
        return frechet.report_lines(results)


def _generated(model, count, seed, batch_size=250):
    latents = tf.random.stateless_normal([count, model.latent_dim], [seed, 12345])
    return np.concatenate([model.generate(latents[i:i + batch_size]).numpy()
                           for i in range(0, count, batch_size)])
