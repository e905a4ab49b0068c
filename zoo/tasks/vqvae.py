"""The VQ-VAE's tasks: stage 1 the autoencoder, stage 2 the PixelCNN prior over its codes.

`python -m recipes.vqvae` runs `VQVAETask`, whose prerequisite is the
autoencoder (`AutoencoderTask`, in MODEL_DIR/autoencoder or
`--autoencoder_dir`); the prior then trains on the codes of the frozen
autoencoder in MODEL_DIR itself, so `zoo.load_run(MODEL_DIR)` gives the whole
generative model (`zoo.models.vqvae_prior.VQVAEWithPrior`). Each stage has its
own checkpoints and resumes after a kill; `--stage=prior` trains a prior on an
existing autoencoder.

Judged by: the autoencoder's reconstruction log P(x | z_q) and codebook use
(perplexity, share of codes used, a histogram); the bound
log P(x) >= log P(x | z_q) + log p_prior(z_q) in nats and bits/dim, with the
VAE's data encodings and dequantization (`zoo.metrics.likelihood`); and the
Fréchet distance of prior samples (`zoo.tasks.frechet`). The baselines, a VAE
and a DCGAN on the same data and split, are judged by the same bound and the
same feature network.
"""

import dataclasses
import os
from typing import Optional, Tuple

import keras
import numpy as np
import tensorflow as tf

from zoo import checks
from zoo import distributions
from zoo import images as zoo_images
from zoo.metrics import codebook
from zoo.metrics import likelihood
from zoo.models import pixelcnn
from zoo.models import vqvae
from zoo.models import vqvae_prior
from zoo.tasks import frechet
from zoo.tasks import vqvae_baselines
from zoo.train import load
from zoo.train import task

__all__ = ["VQVAEConfig", "AutoencoderTask", "VQVAETask", "BASELINES"]

BASELINES = vqvae_baselines.NAMES
# The settings of the autoencoder (stage 1); the rest of the model settings are the prior's.
AUTOENCODER_FIELDS = ("dataset", "image_size", "channels", "mixed_precision", "likelihood",
                      "fixed_scale", "num_codes", "embedding_dim", "filters", "downsamples",
                      "residual_blocks", "beta", "ema", "ema_decay", "restart_threshold")


def _baselines(name, value):
    unknown = sorted(set(value) - set(BASELINES))
    if unknown:
        raise ValueError(f"{name}={','.join(value)}: unknown baselines {unknown}; choose from "
                         f"{', '.join(BASELINES)} (or pass --{name}= for none).")
    return tuple(value)


@dataclasses.dataclass
class VQVAEConfig(task.RunConfig):
    """A VQ-VAE run: `python -m recipes.vqvae`; `epochs` and `learning_rate` are stage 1's."""
    model_dir: str = "runs/vqvae"
    epochs: int = 30
    likelihood: str = task.setting(
        "bernoulli", "The likelihood p(x | z_q), as for the VAE: bernoulli (binarized data), "
        "gaussian, gaussian_fixed, discretized_logistic, continuous_bernoulli.", model=True,
        choices=tuple(sorted(distributions.LIKELIHOODS)))
    fixed_scale: float = task.setting(0.1, "Standard deviation of gaussian_fixed.", model=True,
                                      check=checks.finite_positive)
    num_codes: int = task.setting(64, "K, the codebook size.", model=True,
                                  check=checks.positive_int)
    embedding_dim: int = task.setting(16, "D, the size of each code.", model=True,
                                      check=checks.positive_int)
    filters: int = task.setting(64, "Width of the encoder and decoder.", model=True,
                                check=checks.positive_int)
    downsamples: int = task.setting(2, "Halvings from the image to the code grid (28 -> 7).",
                                    model=True, check=checks.positive_int)
    residual_blocks: int = task.setting(2, "Residual blocks in encoder and decoder.",
                                        model=True, check=checks.non_negative_int)
    beta: float = task.setting(0.25, "Weight of the commitment term (the paper's 0.25).",
                               model=True, check=checks.finite_non_negative)
    ema: bool = task.setting(True, "Learn the codebook by moving averages (Appendix A.1) "
                             "instead of its loss term.", model=True)
    ema_decay: float = task.setting(0.99, "Decay of the codebook's moving averages.",
                                    model=True, check=checks.finite_non_negative)
    restart_threshold: float = task.setting(
        1.0, "With --ema, restart codes whose running count falls below this from encoder "
        "outputs (0: never).", model=True, check=checks.finite_non_negative)
    stage: str = task.setting("all", "all: train the autoencoder, then the prior; prior: "
                              "train a prior on the autoencoder in --autoencoder_dir.",
                              choices=("all", "prior"))
    autoencoder_dir: Optional[str] = task.setting(
        None, "The autoencoder's run (stage 1); default MODEL_DIR/autoencoder.")
    prior_epochs: int = task.setting(30, "Epochs of the prior (stage 2).",
                                     check=checks.positive_int)
    prior_learning_rate: float = task.setting(1e-3, "Adam learning rate of the prior.",
                                              check=checks.finite_positive)
    prior_filters: int = task.setting(64, "Width of the gated PixelCNN prior.", model=True,
                                      check=checks.positive_int)
    prior_layers: int = task.setting(6, "Gated layers of the prior.", model=True,
                                     check=checks.positive_int)
    conditional_prior: bool = task.setting(
        False, "Condition the prior on the data's attributes (digits: the class; shapes, "
        "celeb_a: their attributes).", model=True)
    baselines: Tuple[str, ...] = task.setting(
        BASELINES, "Models trained after, on the same data, for comparison: vae, dcgan.",
        check=_baselines)
    importance_samples: int = task.setting(
        500, "K of the VAE baseline's importance-weighted bound.", check=checks.positive_int)
    fid_samples: int = task.setting(2000, "At most this many images per set for the Fréchet "
                                    "distances.", check=checks.positive_int)
    fid_classifier_epochs: Optional[int] = task.setting(
        None, "Epochs of the offline feature classifier (default: by dataset size).",
        check=checks.positive_int)

    def __post_init__(self):
        super().__post_init__()
        if self.ema_decay >= 1:
            raise ValueError(f"ema_decay={self.ema_decay} must be below 1: 1 never moves the "
                             "codes.")

    @property
    def autoencoder_model_dir(self):
        return self.autoencoder_dir or os.path.join(self.model_dir, "autoencoder")


class AutoencoderTask(task.Task):
    """Stage 1: a `zoo.models.vqvae.VQVAE`, judged by reconstructions and codebook use."""
    name = "vqvae_autoencoder"
    config_class = VQVAEConfig

    def model_fields(self):
        return tuple(name for name in self.config.model_fields() if name in AUTOENCODER_FIELDS)

    def build_model(self, source):
        """The VQ-VAE, kept in `self.model` for the prior stage of the same process."""
        config = self.config
        _conditions(config, source)  # A prior that cannot be conditioned fails before stage 1.
        chosen = config.likelihood
        if chosen == "gaussian_fixed":
            chosen = distributions.FixedVarianceGaussian(config.fixed_scale)
        self.model = vqvae.VQVAE(
            self.image_shape(source), num_codes=config.num_codes,
            embedding_dim=config.embedding_dim, likelihood=chosen, filters=config.filters,
            downsamples=config.downsamples, residual_blocks=config.residual_blocks,
            beta=config.beta, ema=config.ema, decay=config.ema_decay,
            restart_threshold=config.restart_threshold, seed=config.seed)
        return self.model

    def evaluate(self, model, data):
        """Test reconstruction log P(x | z_q) (and the uniform-prior bound); codebook use."""
        config = self.config
        results = likelihood.evaluate_likelihood(
            model, data.test_batches, num_samples=0, max_batches=config.eval_batches,
            seed=config.seed)
        counts = codebook.code_counts(model, data.test_batches, config.eval_batches)
        results.update(codebook.usage(counts), code_counts=counts.tolist(),
                       num_codes=model.num_codes)
        zoo_images.plot_code_usage(
            os.path.join(config.model_dir, "code_usage.png"), counts,
            f"codes of the test images: perplexity {results['perplexity']:.1f} of "
            f"{model.num_codes}, {results['codes_used']:.0%} used")
        writer = tf.summary.create_file_writer(os.path.join(config.model_dir, "logs", "codebook"))
        with writer.as_default():  # TensorBoard's histogram of the test images' codes.
            tf.summary.histogram("code_usage", np.repeat(np.arange(len(counts)), counts),
                                 step=config.epochs, buckets=model.num_codes)
        writer.close()
        return results


class VQVAETask(task.Task):
    """Stage 2: a PixelCNN prior on the frozen autoencoder's codes; the whole model's bound."""
    name = "vqvae"
    config_class = VQVAEConfig
    epochs_field = "prior_epochs"

    def __init__(self, config=None):
        super().__init__(config)
        if self.config.stage == "prior":
            self.config = _with_autoencoder_settings(self.config)
        self.keys = ("image", "attributes") if self.config.conditional_prior else ("image",)
        self.autoencoder_task = AutoencoderTask(dataclasses.replace(
            self.config, model_dir=self.config.autoencoder_model_dir, export_dir=None))

    def prerequisites(self):
        return {} if self.config.stage == "prior" else {"autoencoder": self.autoencoder_task}

    def trained_autoencoder(self):
        """The stage-1 VQ-VAE: as this process trained it, else from its run's folder.

        In memory first, so that a multi-worker run's non-chief workers, which
        write nothing, still have it (every worker trains the same weights).
        """
        trained = getattr(self.autoencoder_task, "model", None)
        return trained if trained is not None else load.load_run(
            self.config.autoencoder_model_dir)

    def compile(self, model):
        model.compile(optimizer=keras.optimizers.Adam(self.config.prior_learning_rate),
                      jit_compile=self.config.jit_compile)

    def build_model(self, source):
        config = self.config
        trained = self.trained_autoencoder()
        # Its weights without its optimizer, which the frozen autoencoder no longer needs.
        autoencoder = type(trained).from_config(trained.get_config())
        autoencoder.set_weights(trained.get_weights())
        prior = pixelcnn.PixelCNNPrior(
            autoencoder.grid_shape, autoencoder.num_codes, filters=config.prior_filters,
            num_layers=config.prior_layers, num_conditions=_conditions(config, source),
            seed=config.seed)
        return vqvae_prior.VQVAEWithPrior(autoencoder, prior,
                                          conditional=config.conditional_prior)

    def evaluate(self, model, data):
        """The bound on log P(x) and the Fréchet distance of prior samples."""
        config = self.config
        results = likelihood.evaluate_likelihood(
            model, data.test_batches, num_samples=0, max_batches=config.eval_batches,
            seed=config.seed)
        results.update(frechet.sample_distances(
            self, model, data, frechet.sampler(config.seed, data), self.fid_directory(),
            config.fid_samples, config.fid_classifier_epochs))
        return results

    def fid_directory(self):
        return frechet.default_directory(self.config)

    def baselines(self, results):
        del results
        return vqvae_baselines.baseline_tasks(self.config, self.fid_directory())

    def report(self, results):
        lines = []
        stage1 = results.get("autoencoder")
        if stage1:
            lines.append(
                f"autoencoder: test log P(x | z_q) of the {stage1['data']} data = "
                f"{stage1['reconstruction']:.2f} nats; codebook perplexity "
                f"{stage1['perplexity']:.1f} of {stage1['num_codes']} codes, "
                f"{stage1['codes_used']:.0%} used")
        lines.append(
            f"test log P(x) of the {results['data']} data >= log P(x | z_q) + log p(z_q) = "
            f"{results['elbo']:.2f} nats ({results['elbo_bits_per_dim']:.3f} bits/dim), "
            f"prior -log p(z_q) = {results['kl']:.2f} nats, {results['num_examples']} images")
        lines += frechet.report_lines(results, "model")
        return lines + vqvae_baselines.report_lines(results.get("baselines", {}))


def _conditions(config, source):
    """The size of the prior's conditioning vector: the data's attributes, or 0."""
    if not config.conditional_prior:
        return 0
    if not source.attribute_names:
        raise ValueError(f"--conditional_prior needs attributes; dataset {config.dataset} has "
                         "none (digits, shapes and celeb_a do).")
    return len(source.attribute_names)


def _with_autoencoder_settings(config):
    """`config` with the autoencoder's settings read from its run (for --stage=prior)."""
    directory = config.autoencoder_model_dir
    try:
        saved = load.read_config(directory)
    except load.RunNotFound as error:
        raise ValueError(f"--stage=prior: {error}") from None
    if saved["task"] != AutoencoderTask.name:
        raise ValueError(f"--stage=prior: {directory} holds a {saved['task']} run, not a "
                         "VQ-VAE autoencoder; pass the autoencoder folder of a "
                         "recipes.vqvae run as --autoencoder_dir.")
    return dataclasses.replace(config, **{name: saved[name] for name in AUTOENCODER_FIELDS
                                          if name in saved})
