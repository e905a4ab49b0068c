"""The training loop: Keras `fit`, or a `strategy.run` loop where fit cannot go.

Keras 3's `fit()` fails under a multi-worker `MultiWorkerMirroredStrategy`
(keras-team/keras #20585). There the same callbacks are driven by a
`tf.function` that calls `strategy.run(model.train_step, ...)` on the
distributed dataset. Both paths call the model's own `train_step`, so the
model trains the same way under every strategy.
"""

import keras
import tensorflow as tf

from zoo.train import strategy as zoo_strategy

__all__ = ["train"]


def _metric_logs(model):
    return {m.name: float(m.result()) for m in model.metrics}


def _evaluate(iterator, steps, test_step):
    """Runs test_step on `steps` batches of a distributed iterator, or all when None.

    `get_next_as_optional` tells every worker alike when the data has run out
    (a worker with no batch left still takes part in the step), so the end of a
    finite dataset stops all workers together, as `fit` does for
    `validation_steps=None`.
    """
    taken = 0
    while steps is None or taken < steps:
        batch = iterator.get_next_as_optional()
        if not batch.has_value():
            break
        test_step(batch.get_value())
        taken += 1


def _custom_loop(model, strategy, train_data, steps_per_epoch, epochs,
                 initial_epoch, eval_data, eval_steps, callbacks, verbose):
    iterator = iter(strategy.experimental_distribute_dataset(train_data))
    if eval_data is not None:
        distributed_eval = strategy.experimental_distribute_dataset(eval_data)

    @tf.function
    def train_step(iterator):
        strategy.run(model.train_step, args=(next(iterator),))

    @tf.function
    def test_step(batch):
        strategy.run(model.test_step, args=(batch,))

    callback_list = keras.callbacks.CallbackList(
        callbacks, add_history=True, add_progbar=verbose > 0, model=model,
        verbose=verbose, epochs=epochs, steps=steps_per_epoch)
    callback_list.on_train_begin()
    logs = {}
    for epoch in range(initial_epoch, epochs):
        model.reset_metrics()
        callback_list.on_epoch_begin(epoch)
        for step in range(steps_per_epoch):
            callback_list.on_train_batch_begin(step)
            train_step(iterator)
            logs = _metric_logs(model)
            callback_list.on_train_batch_end(step, logs)
            if model.stop_training:
                break
        if eval_data is not None and eval_steps != 0:
            model.reset_metrics()
            _evaluate(iter(distributed_eval), eval_steps, test_step)
            logs.update({"val_" + k: v for k, v in _metric_logs(model).items()})
        callback_list.on_epoch_end(epoch, logs)
        if model.stop_training:
            break
    callback_list.on_train_end(logs)
    return model.history


def train(model, strategy, train_data, steps_per_epoch, epochs, *,
          initial_epoch=0, eval_data=None, eval_steps=None, callbacks=(),
          verbose=1):
    """Trains `model` (compiled under `strategy.scope()`) and returns its History.

    Args:
        model: a compiled `keras.Model` with its own `train_step`/`test_step`.
        strategy: the `tf.distribute.Strategy` the model was built under.
        train_data: an infinite dataset of global batches.
        steps_per_epoch: batches per epoch.
        epochs: index of the last epoch (as in `fit`).
        initial_epoch: epoch to resume from.
        eval_data: a finite dataset of global batches, evaluated every epoch.
        eval_steps: batches of `eval_data` per evaluation (None: all of it, in
            both loops).
        callbacks: Keras callbacks.
        verbose: 1 for a progress bar, 2 for a line per epoch, 0 for silence.

    Raises:
        ValueError: `eval_steps=None` with an infinite `eval_data`.
    """
    if (eval_data is not None and eval_steps is None
            and int(eval_data.cardinality()) == int(tf.data.INFINITE_CARDINALITY)):
        raise ValueError("eval_steps=None evaluates all of eval_data, which is infinite; "
                         "pass eval_steps or a finite dataset.")
    if zoo_strategy.is_multi_worker(strategy):
        return _custom_loop(model, strategy, train_data, steps_per_epoch, epochs,
                            initial_epoch, eval_data, eval_steps, list(callbacks), verbose)
    return model.fit(train_data, epochs=epochs, steps_per_epoch=steps_per_epoch,
                     initial_epoch=initial_epoch, validation_data=eval_data,
                     validation_steps=eval_steps, callbacks=list(callbacks), shuffle=False,
                     verbose=verbose)
