"""SavedModel export: named signatures, loaded in a fresh process without `zoo`."""

import json
import os
import shutil
import subprocess

import keras
import numpy as np
import pytest
import tensorflow as tf

import harness
import zoo
from zoo import export
from zoo.models.vae import VAE

# For every signature of every SavedModel in argv[1] (JSON {model: path}) and each of its
# inputs: the right shape, then that input alone with a wrong rank, a wrong size in each
# non-batch axis (the channels of images), an empty batch and a NaN, the others right.
# Each is served twice: by `signatures[name]` (as from Python) and by a TF1 Session fed
# through CallableOptions, which skips Python's feed-shape check as TF Serving's C++
# session does. Results are "ok" or the error's message.
_REJECT = r"""
import json, sys
import numpy as np
import tensorflow as tf
from tensorflow.core.protobuf import config_pb2

def cases(shape):
    right = [2 if d is None else d for d in shape]
    yield "right", np.zeros(right, np.float32)
    yield "rank-1", np.zeros(right[:-1], np.float32)
    yield "rank+1", np.zeros(right + [1], np.float32)
    for axis in range(1, len(right)):
        wrong = list(right)
        wrong[axis] += 1
        yield f"size{axis}", np.zeros(wrong, np.float32)
    yield "empty", np.zeros([0] + right[1:], np.float32)
    yield "nan", np.full(right, np.nan, np.float32)

def outcome(call):
    try:
        call()
        return "ok"
    except tf.errors.InvalidArgumentError as error:
        return error.message

def requests(signature_inputs):  # (key, signature, {input: value}) for every case
    for signature, specs in signature_inputs.items():
        right = {name: np.zeros([2 if d is None else d for d in spec.shape], np.float32)
                 for name, spec in specs.items()}
        for name, spec in specs.items():
            for case, value in cases(spec.shape.as_list()):
                yield f"{signature}/{name}/{case}", signature, dict(right, **{name: value})

out = {}
for model, path in json.loads(sys.argv[1]).items():
    loaded = tf.saved_model.load(path)
    specs = {name: fn.structured_input_signature[1] for name, fn in loaded.signatures.items()}
    for key, signature, inputs in requests(specs):
        fn = loaded.signatures[signature]
        tensors = {k: tf.constant(v) for k, v in inputs.items()}
        out[f"{model}/{key}"] = [outcome(lambda: fn(**tensors))]
    with tf.compat.v1.Session(graph=tf.Graph()) as session:
        definitions = tf.compat.v1.saved_model.loader.load(session, ["serve"], path).signature_def
        served = {}
        for signature in specs:
            definition = definitions[signature]
            feed = sorted(definition.inputs)
            served[signature] = feed, session._make_callable_from_options(
                config_pb2.CallableOptions(feed=[definition.inputs[k].name for k in feed],
                                           fetch=[v.name for v in definition.outputs.values()]))
        for key, signature, inputs in requests(specs):
            feed, call = served[signature]
            out[f"{model}/{key}"].append(outcome(lambda: call(*[inputs[k] for k in feed])))
out["zoo_imported"] = "zoo" in sys.modules
print(json.dumps(out))
"""


def _tiny_models():
    """One small instance of every model: mlp networks, odd sizes; DCGAN is convolutional."""
    shape = (6, 5, 2)
    return {
        "VAE": zoo.VAE(shape, latent_dim=3, network="mlp", likelihood="gaussian"),
        "CVAE": zoo.CVAE(shape, 2, latent_dim=3, network="mlp", encoder_hidden=4,
                         likelihood="gaussian"),
        "DisCVAE": zoo.DisCVAE(shape, 2, foreground_dim=3, background_dim=2, network="mlp",
                               encoder_hidden=4),
        "DCIGN": zoo.DCIGN(shape, [("scale", 1), ("position_x", 2)], intrinsic_dim=2,
                           network="mlp"),
        "DCGAN": zoo.DCGAN((8, 8, 1), latent_dim=3, base_filters=2),
        "VAE-iaf": zoo.VAE(shape, latent_dim=3, network="mlp", likelihood="gaussian",
                           posterior="iaf", flow_steps=1, flow_hidden=4),
    }


def test_every_endpoint_of_every_model_rejects_wrong_inputs_in_a_fresh_process(tmp_path):
    models = _tiny_models()
    paths = {name: export.export_saved_model(model, str(tmp_path / name))
             for name, model in models.items()}
    served = harness.run_fresh_process(_REJECT, json.dumps(paths), cwd=tmp_path)
    # By hand: the message names the endpoint, the input, the expected and the actual shape.
    assert ("assertion failed: [reconstruct: input images must have shape [N, 6, 5, 2] with "
            "N >= 1 (float32); got [2, 6, 5]]") in served["VAE/reconstruct/images/rank-1"][0]
    assert ("generate: input latents must have shape [N, 5] with N >= 1 (float32); got [2, 6]]"
            ) in served["DisCVAE/serving_default/latents/size1"][1]
    checked = 0
    for model_name, model in models.items():
        endpoints = model.serving_endpoints()
        signatures = {"serving_default": next(iter(endpoints)), **{e: e for e in endpoints}}
        for signature, endpoint in signatures.items():
            for spec in endpoints[endpoint][1]:
                key = f"{model_name}/{signature}/{spec.name}"
                shape = ", ".join(["N"] + [str(d) for d in spec.shape[1:]])
                wrong_shape = f"{endpoint}: input {spec.name} must have shape [{shape}] with N >= 1"
                not_finite = f"{endpoint}: input {spec.name} has NaN or Inf values"
                expected = {"right": None, "rank-1": wrong_shape, "rank+1": wrong_shape,
                            "empty": wrong_shape, "nan": not_finite,
                            **{f"size{axis}": wrong_shape for axis in range(1, spec.shape.rank)}}
                for case, message in expected.items():
                    # [from signatures[...], from the session as TF Serving runs it]
                    outcomes = served.pop(f"{key}/{case}")
                    if message is None:
                        assert outcomes == ["ok", "ok"], (key, outcomes)
                    else:
                        assert all(message in o for o in outcomes), (key, case, outcomes)
                checked += 1
    assert not served, f"unchecked results: {sorted(served)}"
    # (signature, input) pairs: VAE 5, CVAE 8, DisCVAE 8, DCIGN 6, DCGAN 3, VAE-iaf 5.
    assert checked == 35


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
    assert os.listdir(directory) == ["1"]  # no temporary folder left behind
    assert export.next_version(directory) == 2


def test_an_existing_version_is_not_overwritten(exported):
    model, directory, path = exported
    before = os.stat(os.path.join(path, "saved_model.pb"))
    with pytest.raises(ValueError, match=r"version 1 exists already at .*1: export to another"):
        export.export_saved_model(model, directory, version=1)
    after = os.stat(os.path.join(path, "saved_model.pb"))
    assert (after.st_mtime_ns, after.st_size) == (before.st_mtime_ns, before.st_size)


@pytest.mark.parametrize("version", [-1, 0, 1.5, 2.0, "2", True, None])
def test_versions_must_be_positive_integers(version, tmp_path):
    model = zoo.VAE((6, 5, 2), latent_dim=3, network="mlp", likelihood="gaussian")
    if version is None:  # None takes the next free version; numpy integers are integers.
        assert export.export_saved_model(model, str(tmp_path)) == str(tmp_path / "1")
        assert export.export_saved_model(model, str(tmp_path), np.int64(3)) == str(tmp_path / "3")
        assert export.next_version(str(tmp_path)) == 4
        return
    with pytest.raises(ValueError, match=rf"^version={version!r}: must be a positive integer"):
        export.export_saved_model(model, str(tmp_path), version)
    assert not os.path.exists(tmp_path / str(version))


def test_a_failed_or_killed_export_leaves_no_version_folder(tmp_path, monkeypatch):
    """TF Serving loads every all-digit folder: a half-written one must never appear."""
    written = []

    def write_partly_then_fail(self, filepath, **kwargs):  # pylint: disable=unused-argument
        written.append(filepath)
        os.makedirs(os.path.join(filepath, "variables"))
        with open(os.path.join(filepath, "variables", "variables.index"), "wb") as f:
            f.write(b"partial")
        raise OSError("disk full while writing")

    model = zoo.VAE((6, 5, 2), latent_dim=3, network="mlp", likelihood="gaussian")
    directory = tmp_path / "export"
    # What a killed export leaves: its temporary folder, which nothing reads.
    os.makedirs(directory / ".tmp-1-99999999" / "variables")
    assert export.next_version(str(directory)) == 1
    with monkeypatch.context() as patch:
        # ExportArchive() makes an instance of the backend's subclass: patch that.
        patch.setattr(type(keras.export.ExportArchive()), "write_out", write_partly_then_fail)
        with pytest.raises(OSError, match="disk full while writing"):
            export.export_saved_model(model, str(directory))
    assert written == [str(directory / f".tmp-1-{os.getpid()}")]
    assert sorted(os.listdir(directory)) == [".tmp-1-99999999"]
    assert export.next_version(str(directory)) == 1
    path = export.export_saved_model(model, str(directory))
    assert path == str(directory / "1")
    assert os.path.isfile(os.path.join(path, "saved_model.pb"))
    assert sorted(os.listdir(directory)) == [".tmp-1-99999999", "1"]


def test_fresh_process_without_zoo_reproduces_every_signature(exported):
    model, _, path = exported
    rng = np.random.default_rng(0)
    inputs = {"images": rng.uniform(size=(3, 28, 28, 1)).astype(np.float32),
              "latents": rng.normal(size=(3, 5)).astype(np.float32),
              "noise": rng.normal(size=(3, 5)).astype(np.float32)}
    served = harness.load_in_fresh_process(path, inputs)
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


@pytest.mark.skipif(shutil.which("saved_model_cli") is None, reason="saved_model_cli not on PATH")
@pytest.mark.parametrize("shape", [(2, 25, 25, 1), (2, 28, 28)])
def test_saved_model_cli_refuses_wrong_shapes_without_aborting(exported, tmp_path, shape):
    """25x25 images once came back as 28x28 reconstructions; [2, 28, 28] aborted the process.

    The inputs come from a .npy file: this TF's saved_model_cli evaluates --input_exprs as
    Python literals only, so 'images=np.zeros(...)' fails before the model is loaded.
    """
    _, _, path = exported
    np.save(tmp_path / "images.npy", np.zeros(shape, np.float32))
    run = subprocess.run(["saved_model_cli", "run", "--dir", path, "--tag_set", "serve",
                          "--signature_def", "reconstruct", "--inputs",
                          f"images={tmp_path / 'images.npy'}", "--outdir", str(tmp_path / "out")],
                         capture_output=True, text=True, timeout=120,
                         env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    assert run.returncode == 1, (run.returncode, run.stderr[-2000:])
    assert (f"Cannot feed value of shape {shape} for Tensor reconstruct_images:0, which has "
            "shape (None, 28, 28, 1)") in run.stderr
    assert not (tmp_path / "out").exists()
