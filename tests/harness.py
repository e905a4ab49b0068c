"""Helpers shared by the tests: recipes, scripts and SavedModels in fresh Python processes.

A fresh interpreter is how the tests run a recipe as users do (`python -m
recipes.vae ...`), make a `MirroredStrategy` that must not meet pytest's, and
serve an export without `zoo` imported (as TF Serving would, knowing nothing
of the zoo). Every child runs this repository's code (PYTHONPATH), with TF's
C++ logs quiet.
"""

import csv
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def python_env(**extra):
    """The environment of a child Python: this repository first on the path, TF quiet."""
    path = os.pathsep.join(filter(None, [REPO, os.environ.get("PYTHONPATH")]))
    return dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=path, **extra)


def run_python(*args, timeout=300, cwd=REPO, stdin=None):
    """`python *args` to completion; the `subprocess.CompletedProcess` (text output)."""
    return subprocess.run([sys.executable, *map(str, args)], cwd=str(cwd), input=stdin,
                          capture_output=True, text=True, timeout=timeout, env=python_env())


def run_python_json(*args, **kwargs):
    """`run_python`, which must succeed; the JSON its stdout's last line holds."""
    result = run_python(*args, **kwargs)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def run_recipe(module, *args, timeout=300):
    """`python -m module *args` from the repository root, e.g. module="recipes.vae"."""
    return run_python("-m", module, *args, timeout=timeout)


def kill_recipe_after(module, *args, model_dir, epochs=2, timeout=180):
    """Runs `python -m module *args` until it has checkpointed `epochs` epochs, then SIGKILLs it.

    Returns the epoch its `model_dir/checkpoints/state.json` names after the
    kill (the run may have gone on a little), for a resumed run to continue from.
    """
    process = subprocess.Popen([sys.executable, "-m", module, *map(str, args)], cwd=REPO,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env=python_env())
    state = os.path.join(model_dir, "checkpoints", "state.json")
    deadline = time.time() + timeout
    while time.time() < deadline and process.poll() is None:
        if os.path.exists(state) and json.load(open(state))["epoch"] >= epochs:
            break
        time.sleep(0.2)
    process.send_signal(signal.SIGKILL)
    process.wait()
    return json.load(open(state))["epoch"]


def history_epochs(model_dir):
    """The epochs (from 0) a run's `model_dir/history.csv` has rows for."""
    with open(os.path.join(model_dir, "history.csv"), newline="") as handle:
        return [int(row["epoch"]) for row in csv.DictReader(handle)]


def run_fresh_process(script, *args, cwd):
    """Runs `script` (python -c) with `args` in a new Python that must not import `zoo`.

    The script prints one JSON dict as its last line, with "zoo_imported"
    ("zoo" in sys.modules); returns that dict without it.
    """
    out = run_python_json("-c", script, *args, cwd=cwd)
    assert out.pop("zoo_imported") is False, "the script imported zoo"
    return out


_SERVE = r"""
import json, sys
import numpy as np
import tensorflow as tf
loaded = tf.saved_model.load(sys.argv[1])
inputs = np.load(sys.argv[2])
out = {name: {key: value.numpy().tolist() for key, value in fn(**{
           arg: tf.constant(inputs[arg]) for arg in fn.structured_input_signature[1]}).items()}
       for name, fn in loaded.signatures.items()}
out["zoo_imported"] = "zoo" in sys.modules
print(json.dumps(out))
"""


def load_in_fresh_process(export_dir, inputs):
    """Serves every signature of a SavedModel in a new Python without `zoo`.

    Args:
        export_dir: the SavedModel's folder.
        inputs: {input name: numpy array}; each signature is called with the
            entries it names (all of them must be there).

    Returns:
        {signature: {output name: numpy array}}.
    """
    with tempfile.TemporaryDirectory() as workdir:
        np.savez(os.path.join(workdir, "inputs.npz"), **inputs)
        served = run_fresh_process(_SERVE, os.path.abspath(export_dir), "inputs.npz",
                                   cwd=workdir)
    return {name: {key: np.asarray(value) for key, value in outputs.items()}
            for name, outputs in served.items()}
