"""Helpers shared by the tests: recipes, scripts and SavedModels in fresh Python processes.

A fresh interpreter is how the tests run a recipe as users do (`python -m
recipes.vae ...`), make a `MirroredStrategy` that must not meet pytest's, and
serve an export without `zoo` imported (as TF Serving would, knowing nothing
of the zoo). Every child runs this repository's code (PYTHONPATH), with TF's
C++ logs quiet.
"""

import json
import os
import subprocess
import sys
import tempfile

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


def start_recipe(module, *args):
    """`python -m module *args` started in the background, its output discarded; the Popen."""
    return subprocess.Popen([sys.executable, "-m", module, *map(str, args)], cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=python_env())


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
