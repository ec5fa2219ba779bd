"""--labelled-batch-size: the labelled and the unlabelled batches of a step, as the objective gets them."""
import json

import pytest

from pyross.objectives import SemiSupervisedELBO

from test_cli import SMALL, invoke


@pytest.fixture
def batch_sizes(monkeypatch):
    """(labelled, unlabelled) images of every step the objective takes while the test runs."""
    seen, call = [], SemiSupervisedELBO.__call__

    def spy(self, model, guide, labelled, unlabelled=None):
        seen.append((len(labelled[0]), None if unlabelled is None else len(unlabelled)))
        return call(self, model, guide, labelled, unlabelled)
    monkeypatch.setattr(SemiSupervisedELBO, "__call__", spy)
    return seen


def test_labelled_batches_of_their_own_size(mnist_dir, tmp_path, batch_sizes):
    # 60 unlabelled images in batches of 20: 3 steps; the 20 labelled ones in batches of 8 cycle: 8, 8, 4
    out = tmp_path / "lb"
    result = invoke("fit", "m2", "--data-dir", mnist_dir, "--out", out, "--labelled-batch-size", "8", *SMALL)
    assert result.exit_code == 0, result.output
    assert batch_sizes == [(8, 20), (8, 20), (4, 20)]
    assert json.loads((out / "config.json").read_text())["labelled_batch_size"] == 8


def test_labelled_batches_default_to_the_batch_size(mnist_dir, tmp_path, batch_sizes):
    result = invoke("fit", "m2", "--data-dir", mnist_dir, "--out", tmp_path / "eq", *SMALL)
    assert result.exit_code == 0, result.output
    assert batch_sizes == [(20, 20)] * 3


def test_a_labelled_batch_size_for_a_model_that_reads_one_kind_is_refused(mnist_dir, tmp_path):
    result = invoke("fit", "ff", "--data-dir", mnist_dir, "--out", tmp_path / "ff", "--labelled-batch-size", "8",
                    *SMALL)
    assert result.exit_code != 0
    assert "--labelled-batch-size does not apply to ff" in result.output
    assert not (tmp_path / "ff").exists()
