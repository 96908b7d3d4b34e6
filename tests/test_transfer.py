"""Transfer learning: builder, weights files, image-bytes export, recipe end to end."""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

import modelzoo
from modelzoo.errors import UsageError
from modelzoo.export.image import expected_bytes_outputs, export_image_bytes_classifier
from modelzoo.models import transfer
from modelzoo.models.transfer import file_sha256, unfreeze_top_layers
from modelzoo.pixels import decode_and_resize
from modelzoo.testing import run_model_test
from tests.recipe_helpers import run_recipe
from tests.serving_helpers import check_serving_assets, serve
from tests.serving_helpers import texts as served_texts
from tests.transfer_helpers import CLASSES, encoded_images, pixels

SCE = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


# --- builder -------------------------------------------------------------------


def test_resnet50_classifier_harness():
    keras.utils.set_random_seed(0)
    model = modelzoo.build_transfer_classifier(3, input_shape=(32, 32, 3), weights=None)
    assert [layer.name for layer in model.layers] == [
        "images", "preprocess", "backbone", "dropout", "logits"
    ]
    # Frozen backbone: only the head trains.
    assert [w.path for w in model.trainable_weights] == ["logits/kernel", "logits/bias"]
    run_model_test(model, pixels(4), np.int32(1), SCE)


def test_preprocessing_is_resnet50s_own():
    model = modelzoo.build_transfer_classifier(2, input_shape=(32, 32, 3), weights=None)
    x = pixels(2)
    np.testing.assert_allclose(
        np.asarray(model.get_layer("preprocess")(x)),
        keras.applications.resnet50.preprocess_input(x.copy()),
        rtol=1e-5, atol=1e-4,
    )


def test_fine_tuning_unfreezes_the_top_but_keeps_batchnorm_in_inference():
    model = modelzoo.build_transfer_classifier(2, backbone="mobilenet_v2",
                                               input_shape=(32, 32, 3), weights=None)
    assert unfreeze_top_layers(model, 10) > 0
    backbone = model.get_layer("backbone")
    norms = [layer for layer in backbone.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert not any(layer.trainable for layer in norms)
    assert not any(layer.trainable for layer in backbone.layers[:-10])
    before = [np.asarray(layer.moving_mean).copy() for layer in norms]
    kernels = [w.numpy().copy() for w in model.trainable_weights]
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss=SCE)
    model.train_on_batch(pixels(4), np.array([0, 1, 0, 1]))
    assert all(np.array_equal(b, np.asarray(layer.moving_mean)) for b, layer in zip(before, norms))
    assert any(not np.array_equal(k, w.numpy()) for k, w in zip(kernels, model.trainable_weights))


@pytest.mark.parametrize(
    "kwargs, arg",
    [
        (dict(num_classes=0), "num_classes"),
        (dict(num_classes=3, backbone="vgg99"), "backbone"),
        (dict(num_classes=3, input_shape=(16, 16, 3)), "input_shape"),
        (dict(num_classes=3, input_shape=(32, 32, 1)), "input_shape"),
        (dict(num_classes=3, dropout=1.5), "dropout"),
        (dict(num_classes=3, trainable_backbone="yes"), "trainable_backbone"),
        (dict(num_classes=3, weights=42), "weights"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs, arg):
    with pytest.raises(ValueError, match=f"`{arg}`"):
        modelzoo.build_transfer_classifier(**dict(dict(weights=None), **kwargs))


# --- weights ---------------------------------------------------------------------


def test_imagenet_offline_is_one_clear_line(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))  # No Keras cache.
    monkeypatch.setattr(transfer, "network_reachable", lambda *a, **k: False)
    with pytest.raises(ValueError) as info:
        modelzoo.build_transfer_classifier(3, input_shape=(32, 32, 3))
    message = str(info.value)
    assert "\n" not in message
    assert "no network" in message and "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5" in message
    assert "pass weights='/path/to/" in message


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory):
    keras.utils.set_random_seed(1)
    backbone = transfer.make_backbone("mobilenet_v2", (32, 32, 3), weights=None)
    path = str(tmp_path_factory.mktemp("weights") / "mobilenet_v2_notop.weights.h5")
    backbone.save_weights(path)
    return path, backbone.get_weights()


def test_local_weights_file_is_loaded_and_hash_checked(weights_file):
    path, expected = weights_file
    model = modelzoo.build_transfer_classifier(
        3, backbone="mobilenet_v2", input_shape=(32, 32, 3), weights=path,
        weights_sha256=file_sha256(path).upper(),
    )
    for got, want in zip(model.get_layer("backbone").get_weights(), expected):
        np.testing.assert_array_equal(got, want)
    wrong = "0" * 64
    with pytest.raises(ValueError) as info:
        modelzoo.build_transfer_classifier(3, backbone="mobilenet_v2", input_shape=(32, 32, 3),
                                           weights=path, weights_sha256=wrong)
    message = str(info.value)
    assert path in message and wrong in message and file_sha256(path) in message


def test_missing_or_misfit_weights_files_are_value_errors(weights_file, tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        modelzoo.build_transfer_classifier(3, input_shape=(32, 32, 3),
                                           weights=str(tmp_path / "nope.h5"))
    with pytest.raises(ValueError, match="does not fit a headless resnet50"):
        modelzoo.build_transfer_classifier(3, input_shape=(32, 32, 3), weights=weights_file[0])


# --- image-bytes export (a small CNN stands in for the backbone) ------------------------


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    keras.utils.set_random_seed(0)
    model = modelzoo.build_cnn((32, 32, 3), 3, filters=(4,), kernel_size=3, dense_units=8,
                               rescale=1 / 255)
    path = str(tmp_path_factory.mktemp("bytes") / "export")
    export_image_bytes_classifier(model, CLASSES, path)
    return model, tf.saved_model.load(path).signatures["serving_default"]


def test_bytes_export_decodes_resizes_and_matches_the_model(served):
    model, fn = served
    images = encoded_images()
    out = fn(images=tf.constant(images))
    want = expected_bytes_outputs(model, CLASSES, images)
    np.testing.assert_allclose(out["probabilities"].numpy(), want["probabilities"],
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(out["class_ids"].numpy(), want["class_ids"])
    assert out["labels"].numpy().tolist() == want["labels"].tolist()
    # Same pixels as keras.utils.image_dataset_from_directory (bilinear), rounded.
    decoded = tf.io.decode_image(images[0], channels=3, expand_animations=False)
    np.testing.assert_array_equal(
        decode_and_resize(tf.constant(images[0]), (32, 32)).numpy(),
        np.clip(np.round(tf.image.resize(decoded, (32, 32)).numpy()), 0, 255),
    )


def test_bytes_export_edge_inputs(served):
    _, fn = served
    empty = fn(images=tf.zeros([0], tf.string))
    assert empty["probabilities"].shape == (0, 3)
    with pytest.raises(tf.errors.InvalidArgumentError):
        fn(images=tf.constant([b"not an image"]))
    with pytest.raises((tf.errors.InvalidArgumentError, ValueError)):
        fn(images=tf.constant([[encoded_images()[0]]]))


def test_bytes_export_arguments_are_checked(tmp_path):
    model = modelzoo.build_mlp((8,), 3)
    with pytest.raises(ValueError, match="RGB images"):
        export_image_bytes_classifier(model, CLASSES, str(tmp_path / "a"))
    cnn = modelzoo.build_cnn((32, 32, 3), 3, filters=(2,), dense_units=4)
    with pytest.raises(ValueError, match="class_names"):
        export_image_bytes_classifier(cnn, CLASSES[:2], str(tmp_path / "b"))


# --- slow: the recipe on a generated folder of images, served from raw bytes -------------


def write_image_folder(root, classes=("cat", "dog", "owl"), per_class=5):
    rng = np.random.default_rng(0)
    files = []
    for c, name in enumerate(classes):
        os.makedirs(root / name)
        for i in range(per_class):
            shape = (int(rng.integers(20, 60)), int(rng.integers(20, 60)), 3)
            image = np.clip(rng.normal(60 + 60 * c, 30, shape), 0, 255).astype(np.uint8)
            data = tf.io.encode_png(image) if i % 2 else tf.io.encode_jpeg(image)
            path = root / name / f"{i}.{'png' if i % 2 else 'jpg'}"
            path.write_bytes(data.numpy())
            files.append(str(path))
    return files


@pytest.mark.slow
def test_recipe_on_an_image_folder_fine_tunes_exports_and_serves_bytes(tmp_path):
    files = write_image_folder(tmp_path / "images")
    summary = run_recipe(
        "flowers_resnet50", f"--export_dir={tmp_path / 'out'}", f"--image_dir={tmp_path / 'images'}",
        "--fine_tune_layers=5", "--fine_tune_epochs=1",
    )
    assert summary["export_path"] == str(tmp_path / "out" / "images_resnet50" / "1")
    assert summary["classes"] == 3 and summary["fine_tuned_weights"] > 0
    assert {"accuracy", "loss"} <= set(summary["head_metrics"])
    card = check_serving_assets(summary["export_path"], "images_resnet50")
    # The warm-up requests carry real image files of the folder.
    assert set(card["warmup"]["images"]) <= {open(f, "rb").read() for f in files}
    assert card["model"]["name"] == "transfer_classifier"
    assert card["dataset"]["name"] == str(tmp_path / "images")
    assert card["metrics"] == pytest.approx(summary["metrics"], abs=1e-6)
    assert card["flags"]["fine_tune_layers"] == 5
    # The raw file bytes, in a fresh process with TensorFlow only (no modelzoo, no KerasHub).
    out = serve(summary["export_path"], {"images": [open(f, "rb").read() for f in files[::4]]},
                forbidden=("modelzoo", "keras_hub"))
    probabilities = out["probabilities"]
    assert probabilities.shape == (len(files[::4]), 3)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    assert set(served_texts(out["labels"])) <= {"cat", "dog", "owl"}
    # The preset beside it takes the same file bytes in Python.
    preset = modelzoo.from_preset(summary["preset_path"])
    assert preset.preprocessor.class_names == ["cat", "dog", "owl"]
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(keras.ops.softmax(
            preset.predict_raw([open(f, "rb").read() for f in files[::4]]))),
        probabilities, atol=1e-5)
    cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    shown = subprocess.run(
        [cli, "show", "--dir", summary["export_path"], "--tag_set", "serve",
         "--signature_def", "serving_default"],
        capture_output=True, text=True, timeout=120,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
    ).stdout
    for needle in ["inputs['images']", "DT_STRING", "(-1)", "outputs['probabilities']",
                   "(-1, 3)", "outputs['class_ids']", "outputs['labels']"]:
        assert needle in shown, shown


@pytest.mark.slow
@pytest.mark.parametrize(
    "args, needle",
    [
        (["--weights=imagenet"], "weights='imagenet' needs a download and there is no network"),
        (["--image_size=16"], "--image_size=16 must be an integer >= 32"),
        (["--fine_tune_layers=-1"], "--fine_tune_layers=-1 must be an integer >= 0"),
        (["--image_dir=/no/such/dir"], "--image_dir=/no/such/dir is not a directory"),
    ],
)
def test_recipe_flag_errors_are_usage_errors(args, needle, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(transfer, "network_reachable", lambda *a, **k: False)
    with pytest.raises(UsageError, match="^" + needle.replace("(", r"\(").replace("?", r"\?")):
        run_recipe("flowers_resnet50", f"--export_dir={tmp_path}", *args)
