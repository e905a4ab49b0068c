"""The metrics every zoo model reports: running means of named per-example values.

A model mixes `MeanMetrics` in before `keras.Model`, names its metrics once
(`track_means("loss", "elbo", ...)`) and ends its `train_step`/`test_step`
with `return self.update_means({"loss": per_example, ...})`: each value (a
tensor of any shape, e.g. [B] per example) is folded into its `keras.metrics.Mean`,
and the step returns every metric's mean so far, as `fit` logs them. Keras
resets them every epoch through `metrics`.
"""

import keras

__all__ = ["MeanMetrics"]


class MeanMetrics:
    """Mixin for a `keras.Model`: its `metrics` are means of named values."""

    def track_means(self, *names):
        """Creates one `keras.metrics.Mean` per name (in `__init__`, before `built`)."""
        self._means = {name: keras.metrics.Mean(name=name) for name in names}

    @property
    def metrics(self):
        return list(self._means.values())

    def update_means(self, values):
        """Adds {name: value} to the means; returns {name: mean so far} of every metric."""
        for name, value in values.items():
            self._means[name].update_state(value)
        return {name: mean.result() for name, mean in self._means.items()}
