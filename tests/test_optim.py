"""JointAdam takes the steps of Pyro's per-parameter Adam, and resumes from either one's state."""
import pyro
import pytest
import torch
from pyro.infer import SVI

from pyross.models import M2
from pyross.objectives import SemiSupervisedELBO
from pyross.optim import JointAdam

K, D = 3, 6


def make_svi(optim):
    """A fresh tiny M2 with the same weights each time, and an SVI stepping it with ``optim``."""
    pyro.clear_param_store()
    torch.manual_seed(0)
    model = M2(x_dim=D, num_classes=K, z_dim=2, hidden=(4,))
    objective = SemiSupervisedELBO(model, alpha=0.1, n_labelled=10, n_train=1000)
    return model, SVI(objective.model, objective.guide, optim, loss=objective)


def batches(n):
    torch.manual_seed(1)
    return [((torch.bernoulli(torch.full((5, D), 0.5)), torch.randint(K, (5,))),
             torch.bernoulli(torch.full((7, D), 0.5))) for _ in range(n)]


def train(svi, data, seed=2):
    pyro.set_rng_seed(seed)
    for labelled, unlabelled in data:
        svi.step(labelled, unlabelled)


def weights(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def assert_same(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert torch.allclose(a[k], b[k], atol=1e-6), k


def test_same_steps_as_pyro_adam():
    data = batches(20)
    pyro_model, pyro_svi = make_svi(pyro.optim.Adam({"lr": 0.01}))
    train(pyro_svi, data)
    joint_model, joint_svi = make_svi(JointAdam(0.01))
    train(joint_svi, data)
    assert_same(weights(pyro_model), weights(joint_model))
    assert len(joint_svi.optim.params) == len(list(joint_model.parameters()))


def test_parameters_join_when_first_touched_and_untouched_ones_stay():
    pyro.clear_param_store()
    a, b = pyro.param("a", torch.zeros(3)), pyro.param("b", torch.zeros(2))
    optim = JointAdam(0.1)
    b.grad = torch.ones(2)  # b has a gradient but is not passed: not this step's parameter
    a.grad = torch.ones(3)
    optim([a])  # a step that touches only a
    assert torch.allclose(a, torch.full((3,), -0.1)) and torch.equal(b, torch.zeros(2))
    assert a.grad is None and b.grad is not None  # the step frees the gradients of what it stepped
    b.grad = torch.ones(2)
    optim([b])  # b joins; a is not passed and does not move
    assert torch.allclose(a, torch.full((3,), -0.1)) and torch.allclose(b, torch.full((2,), -0.1))
    assert list(optim.params.values()) == ["a", "b"]


def test_no_gradient_steps_as_pyro_adam_under_svi():
    """A joined parameter passed without a gradient takes the step Pyro's Adam takes on the zeros
    that SVI leaves in its gradient; one that never had a gradient does not join."""
    pyro.clear_param_store()
    a, c = pyro.param("a", torch.zeros(3)), pyro.param("c", torch.zeros(2))
    reference = torch.zeros(3, requires_grad=True)
    torch_adam = torch.optim.Adam([reference], lr=0.1)
    optim = JointAdam(0.1)
    for grad in (torch.ones(3), None, None):
        a.grad = grad
        reference.grad = torch.zeros(3) if grad is None else grad.clone()
        optim([a, c])
        torch_adam.step()
        assert torch.allclose(a, reference.detach())
    assert not torch.allclose(a, torch.full((3,), -0.1))  # the moments moved it further
    assert list(optim.params.values()) == ["a"] and torch.equal(c, torch.zeros(2))


@pytest.mark.parametrize("first", ["pyro", "joint"])
def test_resumes_from_saved_state(first):
    """3 steps, save, reload into a fresh JointAdam and take 3 more: the same weights as 6 steps
    in one go. From Pyro's own Adam state (older checkpoints) too."""
    data = batches(6)
    straight_model, straight_svi = make_svi(JointAdam(0.01))
    train(straight_svi, data[:3])
    train(straight_svi, data[3:], seed=3)

    model, svi = make_svi(pyro.optim.Adam({"lr": 0.01}) if first == "pyro" else JointAdam(0.01))
    train(svi, data[:3])
    saved_weights, saved_state = weights(model), svi.optim.get_state()
    resumed_model, resumed_svi = make_svi(JointAdam(0.01))
    resumed_model.load_state_dict(saved_weights)
    resumed_svi.optim.set_state(saved_state)
    train(resumed_svi, data[3:], seed=3)
    assert_same(weights(straight_model), weights(resumed_model))


def test_state_is_by_name_and_round_trips():
    model, svi = make_svi(JointAdam(0.01))
    train(svi, batches(2))
    state = svi.optim.get_state()["joint_adam"]
    assert set(state) == {f"m2$$${k}" for k, _ in model.named_parameters()}
    assert all(int(s["step"]) == 2 for s in state.values())
    fresh = JointAdam(0.01)
    fresh.set_state({"joint_adam": state})
    assert fresh.get_state()["joint_adam"].keys() == state.keys()  # kept until the parameters join
