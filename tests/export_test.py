"""SavedModel export: named signatures, loaded in a fresh process without `zoo`."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from zoo import export
from zoo.vae import VAE

_FRESH_PROCESS = r"""
import json, sys
import numpy as np
import tensorflow as tf
path, inputs = sys.argv[1], np.load(sys.argv[2])
loaded = tf.saved_model.load(path)
out = {}
for name, fn in loaded.signatures.items():
    arg = list(fn.structured_input_signature[1])[0]
    result = fn(**{arg: tf.constant(inputs[arg])})
    out[name] = {k: v.numpy().tolist() for k, v in result.items()}
out["zoo_imported"] = "zoo" in sys.modules
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    model = VAE((28, 28, 1), latent_dim=5, base_filters=4, likelihood="gaussian",
                prior="learned_gaussian")
    model.prior.loc.assign(np.linspace(-1, 1, 5).astype(np.float32))
    directory = str(tmp_path_factory.mktemp("export"))
    path = export.export_saved_model(model, directory)
    return model, directory, path


def test_versions_are_numbered_folders(exported):
    _, directory, path = exported
    assert path == os.path.join(directory, "1")
    assert export.next_version(directory) == 2


def test_fresh_process_without_zoo_reproduces_every_signature(exported, tmp_path):
    model, _, path = exported
    rng = np.random.default_rng(0)
    inputs = {"images": rng.uniform(size=(3, 28, 28, 1)).astype(np.float32),
              "latents": rng.normal(size=(3, 5)).astype(np.float32),
              "noise": rng.normal(size=(3, 5)).astype(np.float32)}
    np.savez(tmp_path / "inputs.npz", **inputs)
    result = subprocess.run([sys.executable, "-c", _FRESH_PROCESS, path, str(tmp_path / "inputs.npz")],
                            capture_output=True, text=True, timeout=120, cwd=str(tmp_path),
                            env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    assert result.returncode == 0, result.stderr[-2000:]
    served = json.loads(result.stdout.strip().splitlines()[-1])
    assert served.pop("zoo_imported") is False
    assert set(served) == {"serving_default", "reconstruct", "encode", "decode", "sample"}
    mean, scale = model.encode(inputs["images"])
    expected = {
        "reconstruct": {"reconstructions": model.reconstruct(inputs["images"])},
        "serving_default": {"reconstructions": model.reconstruct(inputs["images"])},
        "encode": {"posterior_mean": mean, "posterior_scale": scale},
        "decode": {"images": model.decode(inputs["latents"])},
        "sample": {"images": model.decode(model.prior.latents_from_noise(inputs["noise"]))},
    }
    for name, outputs in expected.items():
        for key, value in outputs.items():
            np.testing.assert_allclose(served[name][key], value, rtol=1e-5, atol=1e-6,
                                       err_msg=f"{name}/{key}")
    # The sample signature goes through the learned prior, not straight to decode.
    assert not np.allclose(served["sample"]["images"], served["decode"]["images"])


def test_signatures_reject_wrong_shapes_and_dtypes(exported):
    _, _, path = exported
    loaded = tf.saved_model.load(path)
    with pytest.raises((ValueError, TypeError, tf.errors.InvalidArgumentError)):
        loaded.signatures["reconstruct"](images=tf.zeros([2, 32, 32, 1]))
    with pytest.raises((ValueError, TypeError, tf.errors.InvalidArgumentError)):
        loaded.signatures["decode"](latents=tf.zeros([2, 5], tf.int32))


@pytest.mark.skipif(shutil.which("saved_model_cli") is None, reason="saved_model_cli not on PATH")
def test_saved_model_cli_shows_and_runs_the_export(exported, tmp_path):
    model, _, path = exported
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    show = subprocess.run(["saved_model_cli", "show", "--dir", path, "--all"],
                          capture_output=True, text=True, timeout=120, env=env)
    assert show.returncode == 0, show.stderr[-2000:]
    for name in ("serving_default", "encode", "decode", "sample", "reconstruct"):
        assert f"signature_def['{name}']" in show.stdout
    assert "inputs['latents'] tensor_info:" in show.stdout
    assert "shape: (-1, 28, 28, 1)" in show.stdout
    latents = [[0.5] * 5, [-0.5] * 5]
    run = subprocess.run(["saved_model_cli", "run", "--dir", path, "--tag_set", "serve",
                          "--signature_def", "decode", "--input_exprs", f"latents={latents}",
                          "--outdir", str(tmp_path)],
                         capture_output=True, text=True, timeout=120, env=env)
    assert run.returncode == 0, run.stderr[-2000:]
    np.testing.assert_allclose(np.load(tmp_path / "images.npy"),
                               model.decode(np.array(latents, np.float32)), rtol=1e-5, atol=1e-6)
