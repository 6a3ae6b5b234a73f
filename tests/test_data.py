"""Data loaders and pure-torch image transforms (implementations/data)."""

from __future__ import annotations

import os
import pickle
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from reprogrammability.implementations import data as D
from reprogrammability.implementations.data import transforms as T

FIXTURES = Path(__file__).parent / "fixtures" / "data"
sys.path.insert(0, str(FIXTURES))
from make_fixtures import pattern  # noqa: E402

FASHION_ROOT = Path(D.DEFAULT_FASHION_MNIST_ROOT)
needs_fashion = pytest.mark.skipif(
    not (FASHION_ROOT / "train-images-idx3-ubyte.gz").is_file(),
    reason=f"Fashion-MNIST not installed at {FASHION_ROOT} (apt-get install dataset-fashion-mnist)",
)


# ------------------------------------------------------------------------------------------
# transforms


@pytest.mark.parametrize("interpolation", ["bilinear", "bicubic", "area", "nearest"])
@pytest.mark.parametrize("size", [(7, 5), (64, 80)])
def test_resize_of_constant_image_stays_constant(interpolation, size):
    image = torch.full((3, 20, 30), 0.3)
    image[1] = 0.7
    out = T.resize(image, size, interpolation=interpolation)
    assert out.shape == (3, *size)
    assert torch.allclose(out[0], torch.full(size, 0.3), atol=1e-6)
    assert torch.allclose(out[1], torch.full(size, 0.7), atol=1e-6)


def test_resize_int_sets_shorter_side_and_keeps_aspect():
    assert T.resize(torch.rand(3, 300, 451), 256).shape == (3, 256, 384)
    assert T.resize(torch.rand(2, 1, 451, 300), 100).shape == (2, 1, 150, 100)
    same = torch.rand(3, 10, 12)
    assert T.resize(same, (10, 12)) is same


def test_resize_bilinear_keeps_a_linear_ramp_linear():
    ramp = torch.linspace(0, 1, 16).view(1, 1, 16).expand(1, 8, 16)
    up = T.resize(ramp, (8, 32), "bilinear", antialias=False)[0, 0]
    interior = up[2:-2]
    steps = interior[1:] - interior[:-1]
    assert torch.allclose(steps, steps.mean().expand_as(steps), atol=1e-6)
    assert steps.mean() == pytest.approx((1 / 15) / 2, rel=1e-5)


def test_resize_antialias_averages_fine_stripes():
    stripes = torch.zeros(1, 32, 32)
    stripes[:, :, ::4] = 1.0  # one bright column in four
    smooth = T.resize(stripes, (8, 8), "bilinear", antialias=True)[..., 1:-1]
    assert torch.allclose(smooth, torch.full_like(smooth, 0.25), atol=0.01)
    aliased = T.resize(stripes, (8, 8), "bilinear", antialias=False)  # samples between two dark columns
    assert float(aliased.abs().max()) == 0.0


def test_pad_places_the_image():
    image = torch.arange(6, dtype=torch.float32).view(1, 2, 3) + 1
    out = T.pad(image, (1, 2, 3, 4), value=-1.0)  # left, top, right, bottom
    assert out.shape == (1, 2 + 2 + 4, 3 + 1 + 3)
    assert torch.equal(out[:, 2:4, 1:4], image)
    mask = torch.ones_like(out, dtype=torch.bool)
    mask[:, 2:4, 1:4] = False
    assert torch.all(out[mask] == -1.0)
    assert T.pad(image, 2).shape == (1, 6, 7)
    assert T.pad(image, (1, 0)).shape == (1, 2, 5)
    assert torch.equal(T.pad(image, 1, mode="replicate")[:, 0, 1:4], image[:, 0])


def test_center_crop_takes_the_central_window_and_pads_small_images():
    image = torch.arange(7 * 9, dtype=torch.float32).view(1, 7, 9)
    out = T.center_crop(image, (3, 5))
    assert torch.equal(out, image[:, 2:5, 2:7])
    big = T.center_crop(torch.ones(1, 2, 2), 4)
    assert big.shape == (1, 4, 4)
    assert big.sum() == 4 and torch.all(big[:, 1:3, 1:3] == 1)


def test_normalize_and_denormalize_round_trip():
    x = torch.rand(2, 3, 5, 5)
    mean, std = (0.1, 0.2, 0.3), (0.5, 0.25, 2.0)
    y = T.normalize(x, mean, std)
    assert torch.allclose(y[:, 1], (x[:, 1] - 0.2) / 0.25)
    assert torch.allclose(T.denormalize(y, mean, std), x, atol=1e-6)
    with pytest.raises(ValueError, match="mean/std"):
        T.normalize(x, (0.1,), (0.2,))


def test_to_tensor_layouts_and_scaling():
    array = np.zeros((4, 5, 3), dtype=np.uint8)
    array[1, 2] = (255, 51, 0)
    tensor = T.to_tensor(array)
    assert tensor.shape == (3, 4, 5) and tensor.dtype == torch.float32
    assert tensor[:, 1, 2].tolist() == pytest.approx([1.0, 0.2, 0.0])
    assert T.to_tensor(np.full((2, 2), 255, dtype=np.uint8)).shape == (1, 2, 2)
    from PIL import Image

    assert torch.equal(T.to_tensor(Image.fromarray(array)), tensor)
    grey = T.to_rgb(torch.rand(1, 3, 3))
    assert grey.shape == (3, 3, 3) and torch.equal(grey[0], grey[2])
    with pytest.raises(TypeError, match="image"):
        T.to_tensor([1, 2, 3])


def test_transform_arguments_are_checked():
    with pytest.raises(ValueError, match="interpolation"):
        T.resize(torch.rand(1, 4, 4), 2, interpolation="lanczos")
    with pytest.raises(ValueError, match="padding"):
        T.pad(torch.rand(1, 4, 4), (1, 2, 3))
    with pytest.raises(ValueError, match="x: expected shape"):
        T.center_crop(torch.rand(4, 4), 2)


def test_imagenet_eval_transform_shapes_and_normalisation():
    grey = np.full((300, 451, 3), 127, dtype=np.uint8)
    out = D.imagenet_eval_transform()(grey)
    assert out.shape == (3, 224, 224)
    assert out.abs().max() < 1e-5  # (127/255 - 127/255) / (128/255)
    cropped = D.imagenet_eval_transform(crop_fraction=0.875, normalise=False)(np.zeros((100, 50), dtype=np.uint8))
    assert cropped.shape == (3, 224, 224)


# ------------------------------------------------------------------------------------------
# LabelledData


def test_labelled_data_helpers():
    data = D.LabelledData(torch.arange(20).float().view(20, 1), torch.tensor([0] * 15 + [1] * 5), ("a", "b"))
    assert len(data) == 20 and data.num_classes == 2
    assert data.class_counts().tolist() == [15, 5]
    sub = data.subset(8, seed=3)
    assert sub.class_counts().tolist() == [4, 4]
    assert torch.equal(sub.inputs, data.subset(8, seed=3).inputs)
    assert not torch.equal(sub.inputs, data.subset(8, seed=4).inputs)
    seen = torch.cat([x for x, _ in data.batches(6, shuffle=True, seed=1)])
    assert sorted(seen.view(-1).tolist()) == list(range(20))
    loader = torch.utils.data.DataLoader(data, batch_size=7)
    assert [len(y) for _, y in loader] == [7, 7, 6]
    with pytest.raises(ValueError, match="labels"):
        D.LabelledData(torch.zeros(2, 1), torch.tensor([0, 2]), ("a", "b"))
    with pytest.raises(ValueError, match="lengths differ"):
        D.LabelledData(torch.zeros(3, 1), torch.tensor([0, 1]), ("a", "b"))


# ------------------------------------------------------------------------------------------
# images


def test_digits_images_split_and_shape():
    train = D.load_digits_images(size=32, split="train", seed=0)
    test = D.load_digits_images(size=32, split="test", seed=0)
    assert len(train) + len(test) == 1797
    assert train.inputs.shape[1:] == (3, 32, 32)
    assert 0.0 <= float(train.inputs.min()) and float(train.inputs.max()) <= 1.0
    assert torch.equal(train.inputs[:, 0], train.inputs[:, 2])
    counts = test.class_counts()
    assert counts.min() >= 44 and counts.max() <= 46  # stratified 25 %
    again = D.load_digits_images(size=32, split="test", seed=0)
    assert torch.equal(again.labels, test.labels)
    other = D.load_digits_images(size=32, split="test", seed=1)
    assert not torch.equal(other.labels, test.labels)
    raw = D.load_digits_images(size=None, split="all", channels=1)
    from sklearn.datasets import load_digits

    assert torch.allclose(raw.inputs[:, 0] * 16, torch.from_numpy(load_digits().images).float())


def test_read_idx_matches_the_generated_pattern():
    images = D.read_idx(FIXTURES / "idx" / "train-images-idx3-ubyte.gz")
    assert images.shape == (6, 28, 28) and images.dtype == np.uint8
    assert np.array_equal(images, pattern(6, 1, 28, 28)[:, 0])
    labels = D.read_idx(FIXTURES / "idx" / "t10k-labels-idx1-ubyte")  # not compressed
    assert labels.tolist() == [9, 8, 7, 6]


def test_load_idx_dataset_from_fixture():
    data = D.load_mnist(FIXTURES / "idx", split="test", size=14, channels=3)
    assert data.inputs.shape == (4, 3, 14, 14)
    full = D.load_mnist(FIXTURES / "idx", split="test")
    expected = torch.from_numpy(pattern(4, 1, 28, 28, offset=100)).float() / 255
    assert torch.allclose(full.inputs, expected)
    assert full.labels.tolist() == [9, 8, 7, 6]


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.int32, np.float32, np.float64])
def test_write_idx_round_trip(tmp_path, dtype):
    values = np.arange(24).reshape(2, 3, 4)
    array = values.astype(np.uint8) if dtype == np.uint8 else (values - 5).astype(dtype)
    path = D.write_idx(tmp_path / "a.idx.gz", array)
    back = D.read_idx(path)
    assert back.dtype == np.dtype(dtype) and np.array_equal(back, array)
    with pytest.raises(FileExistsError):
        D.write_idx(path, array)


def test_read_idx_rejects_other_files(tmp_path):
    bad = tmp_path / "bad"
    bad.write_bytes(b"PK\x03\x04garbage")
    with pytest.raises(ValueError, match="not an IDX file"):
        D.read_idx(bad)
    short = tmp_path / "short"
    short.write_bytes(bytes([0, 0, 8, 1]) + np.array([10], dtype=">i4").tobytes() + b"\x00" * 3)
    with pytest.raises(ValueError, match="needs"):
        D.read_idx(short)


@needs_fashion
def test_fashion_mnist_from_debian_package():
    test = D.load_fashion_mnist(split="test")
    assert test.inputs.shape == (10000, 1, 28, 28)
    assert test.class_counts().tolist() == [1000] * 10
    assert test.classes[0] == "T-shirt/top" and test.classes[9] == "Ankle boot"
    assert 0.0 == float(test.inputs.min()) and float(test.inputs.max()) == 1.0
    small = D.load_fashion_mnist(split="train", max_samples=100, size=32, channels=3, seed=0)
    assert small.inputs.shape == (100, 3, 32, 32)
    assert small.class_counts().tolist() == [10] * 10


def test_fashion_mnist_missing_root_names_the_package(tmp_path):
    with pytest.raises(FileNotFoundError, match="dataset-fashion-mnist") as info:
        D.load_fashion_mnist(root=tmp_path / "nowhere")
    assert str(tmp_path / "nowhere") in str(info.value)


@pytest.mark.parametrize("root", ["cifar10-bin", "cifar10-py"])
def test_cifar10_formats(root):
    train = D.load_cifar10(FIXTURES / root, split="train")
    assert train.metadata["format"] == ("binary" if root.endswith("bin") else "python")
    assert train.labels.tolist() == [3, 1, 4, 1]
    assert train.classes == D.CIFAR10_CLASSES
    expected = torch.from_numpy(pattern(4, 3, 32, 32)).float() / 255
    assert torch.allclose(train.inputs, expected)
    test = D.load_cifar10(FIXTURES / root, split="test", size=16)
    assert test.inputs.shape == (2, 3, 16, 16) and test.labels.tolist() == [5, 9]


@pytest.mark.parametrize("root", ["cifar100-bin", "cifar100-py"])
def test_cifar100_fine_and_coarse(root):
    fine = D.load_cifar100(FIXTURES / root, split="train", label="fine")
    coarse = D.load_cifar100(FIXTURES / root, split="train", label="coarse")
    assert fine.labels.tolist() == [0, 1, 2] and fine.classes == ("apple", "bee", "castle")
    assert coarse.labels.tolist() == [0, 1, 1] and coarse.classes == ("food", "insects_and_buildings")
    assert torch.allclose(fine.inputs, torch.from_numpy(pattern(3, 3, 32, 32, offset=10)).float() / 255)
    assert D.load_cifar100(FIXTURES / root, split="test").labels.tolist() == [2, 0]


def test_cifar_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no CIFAR"):
        D.load_cifar10(tmp_path)
    with pytest.raises(ValueError, match="format"):
        D.load_cifar10(FIXTURES / "cifar10-bin", format="hdf5")
    with pytest.raises(FileNotFoundError, match="python"):
        D.load_cifar10(FIXTURES / "cifar10-bin", format="python")


class _Evil:
    def __reduce__(self):
        return (os.getcwd, ())


def test_cifar_pickle_reader_refuses_arbitrary_globals(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    (folder / "test_batch").write_bytes(pickle.dumps({b"data": _Evil(), b"labels": [0]}, protocol=2))
    with pytest.raises(pickle.UnpicklingError, match="refusing to load global"):
        D.load_cifar10(tmp_path, split="test")


def test_image_folder(tmp_path):
    data = D.load_image_folder(FIXTURES / "imagefolder")
    assert data.classes == ("cat", "dog")
    assert data.labels.tolist() == [0, 0, 1]
    assert [Path(p).name for p in data.metadata["paths"]] == ["img0.png", "img1.png", "img2.png"]
    expected = torch.stack([torch.from_numpy(pattern(1, 3, 8, 8, k)[0]) for k in range(3)]).float() / 255
    assert torch.allclose(data.inputs, expected)
    assert D.load_image_folder(FIXTURES / "imagefolder", size=4, channels=1).inputs.shape == (3, 1, 4, 4)
    from PIL import Image

    for name, shape in (("a", (5, 5)), ("b", (6, 4))):
        (tmp_path / "x").mkdir(exist_ok=True)
        Image.fromarray(np.zeros(shape, dtype=np.uint8)).save(tmp_path / "x" / f"{name}.png")
    with pytest.raises(ValueError, match="pass size"):
        D.load_image_folder(tmp_path)
    assert D.load_image_folder(tmp_path, size=(3, 2)).inputs.shape == (2, 3, 3, 2)


# ------------------------------------------------------------------------------------------
# time series


@pytest.mark.parametrize(
    "name, n_train, n_test, channels, length, n_classes",
    [
        ("GunPoint", 50, 150, 1, 150, 2),
        ("ItalyPowerDemand", 67, 1029, 1, 24, 2),
        ("ArrowHead", 36, 175, 1, 251, 3),
        ("BasicMotions", 40, 40, 6, 100, 4),
    ],
)
def test_ucr_sets(name, n_train, n_test, channels, length, n_classes):
    train = D.load_ucr(name, "train")
    test = D.load_ucr(name, "test")
    assert train.inputs.shape == (n_train, channels, length)
    assert len(test) == n_test and len(train.classes) == n_classes
    assert not torch.isnan(train.inputs).any()
    assert set(train.labels.tolist()) == set(range(n_classes))


def test_ucr_values_match_sktime():
    pytest.importorskip("sktime")
    from sktime.datasets import load_basic_motions, load_gunpoint

    for loader, name in ((load_gunpoint, "GunPoint"), (load_basic_motions, "BasicMotions")):
        X, y = loader(split="test", return_type="numpy3D")
        ours = D.load_ucr(name, "test")
        assert np.allclose(ours.inputs.numpy(), X, atol=1e-6)
        # sktime lower-cases the whole file; we keep the labels as written
        assert [ours.classes[i].lower() for i in ours.labels.tolist()] == [str(v).lower() for v in y]


def test_ucr_unequal_length_padding_and_normalise():
    vowels = D.load_ucr("JapaneseVowels", "train")
    lengths = vowels.metadata["lengths"]
    assert vowels.inputs.shape[:2] == (270, 12) and vowels.inputs.shape[2] == int(lengths.max())
    short = int(lengths.argmin())
    assert torch.isnan(vowels.inputs[short, :, int(lengths[short]) :]).all()
    assert not torch.isnan(vowels.inputs[short, :, : int(lengths[short])]).any()
    z = D.load_ucr("GunPoint", "train", normalise=True).inputs
    assert torch.allclose(z.mean(-1), torch.zeros(50, 1), atol=1e-5)
    assert torch.allclose(z.std(-1, unbiased=False), torch.ones(50, 1), atol=1e-4)


def test_ucr_regression_and_errors():
    tecator = D.load_ucr("Tecator", "train")
    assert tecator.classes == () and tecator.labels.dtype == torch.float32
    with pytest.raises(ValueError, match="name: expected one of"):
        D.load_ucr("NotASet")


# ------------------------------------------------------------------------------------------
# text


@pytest.mark.parametrize("task, n_train, n_test, classes", [("sentiment", 300, 100, 2), ("topic", 120, 40, 4)])
def test_text_tasks(task, n_train, n_test, classes):
    train = D.load_text_task(task, "train")
    test = D.load_text_task(task, "test")
    assert len(train) == n_train and len(test) == n_test and train.num_classes == classes
    assert train.class_counts().tolist() == [n_train // classes] * classes
    assert test.class_counts().tolist() == [n_test // classes] * classes
    assert not set(train.inputs) & set(test.inputs)
    assert len(set(train.inputs)) == n_train
    assert all(isinstance(t, str) and 3 <= len(t.split()) <= 20 for t in train.inputs)
    assert len(D.load_text_task(task, "all")) == n_train + n_test
    assert train.metadata["license"] == "CC0-1.0"


def test_text_task_labels_follow_the_words():
    data = D.load_text_task("sentiment", "all")
    text = dict(zip(data.inputs, data.labels.tolist()))
    assert text["I loved every minute of this film."] == data.classes.index("positive")
    assert text["I hated the ending of this film."] == data.classes.index("negative")
    topic = D.load_text_task("topic", "all")
    lookup = dict(zip(topic.inputs, topic.labels.tolist()))
    assert topic.classes[lookup["The striker scored twice in the second half."]] == "sports"
    assert topic.classes[lookup["The central bank raised interest rates by a quarter point."]] == "business"
    with pytest.raises(ValueError, match="task"):
        D.load_text_task("nli")


def test_glue_tsv():
    sst = D.load_glue_tsv(FIXTURES / "glue" / "sst2_train.tsv")
    assert sst.labels.tolist() == [1, 0, 1, 0]
    assert sst.inputs[2] == '"quotes" are kept as they are'
    unlabeled = D.load_glue_tsv(FIXTURES / "glue" / "sst2_test.tsv")
    assert unlabeled.labels.tolist() == [-1, -1] and unlabeled.inputs[1] == "dull , dull , dull ."
    rte = D.load_glue_tsv(
        FIXTURES / "glue" / "rte_dev.tsv",
        text_columns=("sentence1", "sentence2"),
        classes=("entailment", "not_entailment"),
    )
    assert rte.inputs[0] == ("The cat sat on the mat.", "A cat is sitting.") and rte.labels.tolist() == [0, 1]
    with pytest.raises(ValueError, match="text_columns"):
        D.load_glue_tsv(FIXTURES / "glue" / "sst2_train.tsv", text_columns=("premise",))


def test_glue_tsv_bad_label(tmp_path):
    path = tmp_path / "bad.tsv"
    path.write_text("sentence\tlabel\nfine\t1\nbroken\t7\n")
    with pytest.raises(ValueError, match="line 3"):
        D.load_glue_tsv(path)


def test_ag_news_csv(tmp_path):
    news = D.load_ag_news_csv(FIXTURES / "ag_news" / "train.csv")
    assert news.labels.tolist() == [2, 3, 1, 0]
    assert news.classes == ("World", "Sports", "Business", "Sci/Tech")
    assert news.inputs[1] == "New Telescope Online Astronomers switched on the instrument on Monday."
    assert news.inputs[3].endswith('discuss the "ceasefire" plan.')
    bad = tmp_path / "bad.csv"
    bad.write_text('"5","Title","Text"\n')
    with pytest.raises(ValueError, match="out of range"):
        D.load_ag_news_csv(bad)
