"""zoo.images: the one place that finds, swaps and checks a batch's images."""

import numpy as np
import pytest
import tensorflow as tf

from zoo import images as zoo_images

_IMAGES = np.arange(2 * 4 * 4, dtype=np.uint8).reshape(2, 4, 4, 1)
_LABELS = np.array([3, 5])


@pytest.mark.parametrize("batch", [_IMAGES, (_IMAGES, _LABELS), ((_IMAGES,),),
                                   {"image": _IMAGES, "label": _LABELS},
                                   {"images": _IMAGES}, ({"image": _IMAGES},)])
def test_every_batch_layout_gives_and_swaps_its_images(batch):
    np.testing.assert_array_equal(zoo_images.unpack_images(batch), _IMAGES)
    swapped = zoo_images.replace_images(batch, lambda images: images + 1)
    np.testing.assert_array_equal(zoo_images.unpack_images(swapped), _IMAGES + 1)
    assert type(swapped) is type(batch)
    if isinstance(batch, dict) and "label" in batch:
        assert swapped["label"] is _LABELS
    if isinstance(batch, tuple) and len(batch) == 2:
        assert swapped[1] is _LABELS


def test_a_dict_without_images_is_refused():
    with pytest.raises(ValueError, match=r"needs an 'image' entry; got keys \['label'\]"):
        zoo_images.unpack_images({"label": _LABELS})
    with pytest.raises(ValueError, match=r"needs an 'image' entry"):
        zoo_images.replace_images({"label": _LABELS}, lambda images: images)


def test_first_images_scale_uint8_and_skip_generators():
    dataset = tf.data.Dataset.from_tensor_slices({"image": _IMAGES}).batch(1)
    np.testing.assert_allclose(zoo_images.first_images(dataset), _IMAGES[:1] / 255.0)
    np.testing.assert_allclose(zoo_images.first_images((_IMAGES, _LABELS)), _IMAGES / 255.0)
    assert zoo_images.first_images(iter([_IMAGES])) is None


def test_check_images_scales_uint8_and_names_the_model_and_shape():
    checked = zoo_images.check_images(_IMAGES, (4, 4, 1), "Model")
    assert checked.dtype == tf.float32
    np.testing.assert_allclose(checked, _IMAGES / 255.0, rtol=1e-6)
    with pytest.raises(ValueError, match=r"^Model expects images of shape \[batch, 4, 4, 1\]; "
                                         r"got \[2, 4, 4\]\.$"):
        zoo_images.check_images(_IMAGES[..., 0], (4, 4, 1), "Model")
    with pytest.raises(ValueError, match="Model"):
        zoo_images.check_images(np.full((1, 4, 4, 1), 2.0, np.float32), (4, 4, 1), "Model")
