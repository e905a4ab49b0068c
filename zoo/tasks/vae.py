"""The VAE's task: build it from a run configuration, compile, evaluate."""

import keras

from zoo.models import vae
from zoo.metrics import likelihood
from zoo.train import runner

__all__ = ["TASK", "build_model", "image_shape"]


def image_shape(config, source):
    """(size, size, channels) from the flags, else from the dataset."""
    size = config.image_size or source.image_shape[0]
    return (size, size, config.channels or source.image_shape[-1])


def build_model(config, source):
    return vae.VAE(image_shape(config, source), seed=config.seed, **config.model_kwargs)


def compile_model(model, config):
    model.compile(optimizer=keras.optimizers.Adam(config.learning_rate),
                  jit_compile=config.jit_compile)


def evaluate(model, dataset, config):
    return likelihood.evaluate_likelihood(
        model, dataset, max_batches=config.eval_batches, seed=config.seed,
        num_samples=config.eval_kwargs.get("importance_samples", 100),
        dequantization_draws=config.eval_kwargs.get("dequantization_draws", 1))


TASK = runner.Task(name="vae", build_model=build_model, compile_model=compile_model,
                   encoding=lambda model: model.likelihood.data_encoding,
                   evaluate=evaluate)
