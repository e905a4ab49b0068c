"""The VQ-VAE run's baselines: a VAE and a DCGAN on the same data, judged the same way.

`recipes.vqvae --baselines=vae,dcgan` trains them after the VQ-VAE, each in its
own folder of the run (MODEL_DIR/vae, MODEL_DIR/dcgan), with the run's data,
likelihood, batch size and seed: the VAE for `--epochs`, the DCGAN for
`--epochs + --prior_epochs` (the VQ-VAE's two stages together). The VAE is
judged by its ELBO and importance-weighted bound on the same test split, and
both by the Fréchet distance of their samples in the features of the VQ-VAE
run's own classifier (MODEL_DIR/fid), so the three numbers are comparable.
"""

import os

from zoo.metrics import likelihood
from zoo.tasks import dcgan as dcgan_task
from zoo.tasks import frechet
from zoo.tasks import vae as vae_task

__all__ = ["NAMES", "baseline_tasks", "report_lines"]

NAMES = ("vae", "dcgan")


def baseline_tasks(config, fid_dir):
    """{name: Task} of the baselines `config.baselines` names (a `VQVAEConfig`)."""
    shared = dict(dataset=config.dataset, image_size=config.image_size,
                  channels=config.channels, global_batch_size=config.global_batch_size,
                  strategy=config.strategy, tpu_address=config.tpu_address,
                  collective_timeout=config.collective_timeout, seed=config.seed,
                  data_dir=config.data_dir, manual_dir=config.manual_dir,
                  download=config.download, verbose=config.verbose,
                  mixed_precision=config.mixed_precision, eval_batches=config.eval_batches,
                  steps_per_epoch=config.steps_per_epoch)
    tasks = {}
    if "vae" in config.baselines:
        tasks["vae"] = VAEBaseline(vae_task.VAEConfig(
            likelihood=config.likelihood, fixed_scale=config.fixed_scale, epochs=config.epochs,
            model_dir=os.path.join(config.model_dir, "vae"),
            importance_samples=config.importance_samples, **shared),
            fid_dir, config.fid_samples, config.fid_classifier_epochs)
    if "dcgan" in config.baselines:
        tasks["dcgan"] = DCGANBaseline(dcgan_task.DCGANConfig(
            epochs=config.epochs + config.prior_epochs,
            model_dir=os.path.join(config.model_dir, "dcgan"),
            fid_samples=config.fid_samples, fid_classifier_epochs=config.fid_classifier_epochs,
            **shared), fid_dir)
    return tasks


def report_lines(baselines):
    """The lines of each baseline's results ({name: results}), prefixed by its name."""
    lines = []
    for name, results in baselines.items():
        own = likelihood.report_lines(results) if "elbo" in results else []
        if "fid_samples" in results:
            own += frechet.report_lines(results)
        lines += [f"baseline {name}: {line}" for line in own]
    return lines


class VAEBaseline(vae_task.VAETask):
    """The VAE on the VQ-VAE's data: its bounds, and the Fréchet distance of its samples."""
    name = "vqvae_vae_baseline"

    def __init__(self, config, fid_dir, fid_samples, fid_classifier_epochs):
        super().__init__(config)
        self.fid_dir = fid_dir
        self.fid_samples = fid_samples
        self.fid_classifier_epochs = fid_classifier_epochs

    def evaluate(self, model, data):
        results = super().evaluate(model, data)
        results.update(frechet.sample_distances(
            self, model, data, frechet.sampler(self.config.seed, data), self.fid_dir,
            self.fid_samples, self.fid_classifier_epochs))
        return results


class DCGANBaseline(dcgan_task.DCGANTask):
    """The DCGAN on the VQ-VAE's data, judged by the VQ-VAE run's feature network."""
    name = "vqvae_dcgan_baseline"

    def __init__(self, config, fid_dir):
        super().__init__(config)
        self.fid_dir = fid_dir

    def fid_directory(self):
        return self.fid_dir
