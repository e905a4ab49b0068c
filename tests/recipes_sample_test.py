"""`python -m recipes.sample` on every recipe's tiny run: the PNG files, their pixels, errors."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from zoo import images as zoo_images
from zoo.data import digits
from zoo.data import folder as zoo_folder
from zoo.data import pipeline

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=_REPO)

# Runs recipes.sample's main once per argument list, in one process (TF starts once).
_SAMPLE_EACH = r"""
import contextlib, io, json, sys
from absl import flags
from recipes import sample
outcomes = []
for args in json.loads(sys.argv[1]):
    flags.FLAGS.unparse_flags()
    flags.FLAGS(["sample", *args])
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            sample.main([])
        outcomes.append(out.getvalue().strip())
    except SystemExit as error:
        outcomes.append(str(error.code))
print(json.dumps(outcomes))
"""


_SET = {"cvae": ["7"], "discvae": ["2", "5"]}  # The attributes the conditional samples set.


def _png(path):
    return np.asarray(Image.open(path))


def _as_png(image):
    """What recipes.sample writes for one image in [0, 1]: uint8, grey as [H, W]."""
    pixels = zoo_images.image_grid(np.asarray(image)[None], padding=0)
    return pixels[..., 0] if pixels.shape[-1] == 1 else pixels


@pytest.fixture(scope="module")
def _folder(tmp_path_factory):
    """Three digits as PNG files: what --reconstruct=folder:PATH reads."""
    folder = tmp_path_factory.mktemp("digit_pngs")
    for index, example in enumerate(digits.load("test", image_size=8).dataset.take(3)):
        Image.fromarray(example["image"].numpy()[..., 0]).save(folder / f"{index}.png")
    return folder


@pytest.fixture(scope="module")
def _sampled(tiny_runs, _folder, tmp_path_factory):
    """({case: (flags, output folder)}, {case: what main printed or its exit message})."""
    out = tmp_path_factory.mktemp("sampled")
    runs = {name: model_dir for name, (model_dir, _) in tiny_runs.items()}
    runs["no"] = str(tmp_path_factory.mktemp("no_run"))
    reconstruct = f"--reconstruct=folder:{_folder}"
    cases = {
        "vae": ["--num_samples=5", "--seed=3"],
        "vae_again": ["--num_samples=5", "--seed=3"],
        "vae_seed_4": ["--num_samples=5", "--seed=4"],
        "dcgan": ["--num_samples=5", "--seed=3"],
        "dcign": ["--num_samples=5", "--seed=3"],
        "cvae": ["--num_samples=5", "--seed=3", "--attributes=" + ",".join(_SET["cvae"])],
        "discvae": ["--num_samples=5", "--seed=3", "--attributes=" + ",".join(_SET["discvae"])],
        "vae_reconstruct": [reconstruct],
        "dcign_reconstruct": [reconstruct],
        "cvae_reconstruct": [reconstruct, "--attributes=1"],
        "dcgan_refuses_reconstruct": [reconstruct],
        "vae_refuses_attributes": ["--attributes=7"],
        "cvae_needs_attributes": [],
        "cvae_unknown_attribute": ["--attributes=seven"],
        "vae_needs_folder_prefix": [f"--reconstruct={_folder}"],
        "no_run": [],
    }
    flags = {case: [f"--model_dir={runs[case.split('_')[0]]}",
                    f"--output_dir={out / case}", *args] for case, args in cases.items()}
    result = subprocess.run([sys.executable, "-c", _SAMPLE_EACH, json.dumps(list(flags.values()))],
                            cwd=_REPO, capture_output=True, text=True, timeout=600, env=_ENV)
    assert result.returncode == 0, result.stderr[-3000:]
    outcomes = json.loads(result.stdout.strip().splitlines()[-1])
    return {case: (args, out / case) for case, args in flags.items()}, dict(zip(flags, outcomes))


@pytest.mark.parametrize("name", ["vae", "dcgan", "dcign", "cvae", "discvae"])
def test_samples_are_the_trained_models_draws(tiny_runs, _sampled, name):
    (_, folder), printed = _sampled[0][name], _sampled[1][name]
    assert printed == f"wrote 5 images (sample_NNN.png) and grid.png to {folder}"
    assert sorted(os.listdir(folder)) == ["grid.png"] + [f"sample_{i:03d}.png" for i in range(5)]
    model = tiny_runs[name][1]
    if name in ("cvae", "discvae"):
        attributes = np.zeros([5, model.attribute_dim], np.float32)
        attributes[:, [model.attribute_index(a) for a in _SET[name]]] = 1.0
        drawn = model.generate(attributes, seed=3)
    else:
        drawn = model.sample(5, seed=3)
    for index, image in enumerate(np.asarray(drawn)):
        np.testing.assert_array_equal(_png(folder / f"sample_{index:03d}.png"), _as_png(image))
    side = model.image_shape[0] + 1  # 2 rows of 3 tiles, each with 1 pixel of padding.
    assert _png(folder / "grid.png").shape[:2] == (2 * side + 1, 3 * side + 1)


def test_the_seed_decides_the_samples(_sampled):
    folders = {case: _sampled[0][case][1] for case in ("vae", "vae_again", "vae_seed_4")}
    same, other = (_png(folders[case] / "grid.png") for case in ("vae_again", "vae_seed_4"))
    np.testing.assert_array_equal(_png(folders["vae"] / "grid.png"), same)
    assert not np.array_equal(same, other)


@pytest.mark.parametrize("name", ["vae", "dcign", "cvae"])
def test_reconstruct_writes_the_folders_images_through_the_model(tiny_runs, _sampled, _folder,
                                                                 name):
    (_, folder), printed = _sampled[0][f"{name}_reconstruct"], _sampled[1][f"{name}_reconstruct"]
    assert printed.startswith("wrote 3 images (reconstruction_NNN.png)"), printed
    model = tiny_runs[name][1]
    size, _, channels = model.image_shape
    source = zoo_folder.load(_folder, image_size=size, channels=channels, test_fraction=0.0)
    pixels = np.stack([example["image"] for example in source.dataset])
    inputs = pipeline.encode_images(pixels, model.likelihood.data_encoding)
    expected = (model.reconstruct(inputs) if name != "cvae" else
                model.reconstruct(inputs, np.eye(model.attribute_dim, dtype=np.float32)[[1] * 3]))
    for index, image in enumerate(np.asarray(expected)):
        written = _png(folder / f"reconstruction_{index:03d}.png").astype(int)
        assert np.abs(written - _as_png(image).astype(int)).max() <= 1  # Float rounding.
    # One row of 8 tiles: 3 (input, output) pairs and 2 blank tiles.
    assert _png(folder / "grid.png").shape[:2] == (size + 2, 8 * (size + 1) + 1)


@pytest.mark.parametrize("case, says", [
    ("dcgan_refuses_reconstruct", "error: --reconstruct: a DCGAN is not an autoencoder."),
    ("vae_refuses_attributes", "error: --attributes: a VAE is not conditioned on attributes."),
    ("cvae_needs_attributes", "error: a CVAE needs --attributes=NAME,... (set to 1, others 0); "
                              "its attributes: 0,1,2,3,4,5,6,7,8,9."),
    ("cvae_unknown_attribute", "error: Unknown attribute 'seven'"),
    ("vae_needs_folder_prefix", "must be folder:PATH."),
    ("no_run", "holds no run of recipes.*"),
])
def test_what_a_model_cannot_do_is_one_line(_sampled, case, says):
    message, folder = _sampled[1][case], _sampled[0][case][1]
    assert says in message and "\n" not in message, message
    assert not os.path.exists(folder)


def test_the_recipe_writes_64_samples_to_model_dir_generated(tiny_runs):
    model_dir = tiny_runs["dcgan"][0]
    result = subprocess.run([sys.executable, "-m", "recipes.sample", f"--model_dir={model_dir}"],
                            cwd=_REPO, capture_output=True, text=True, timeout=300, env=_ENV)
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(os.listdir(os.path.join(model_dir, "generated"))) == 64 + 1
