"""pyross.fastmath: softplus and the Bernoulli log-density against torch's and against float64."""
import pyro.distributions as dist
import pytest
import torch
from torch.fx.experimental.proxy_tensor import make_fx
from torch.nn import functional as F

from pyross import fastmath
from pyross.nets import ACTIVATIONS, GaussianMLP


def test_softplus_is_as_accurate_as_torchs_own():
    a = torch.linspace(-40, 40, 400001, dtype=torch.float64)
    exact = F.softplus(a)  # float64: the reference
    ours = fastmath.softplus(a.float()).double()
    torchs = F.softplus(a.float()).double()
    assert (ours - exact).abs().max() <= (torchs - exact).abs().max() * 1.01
    # everywhere within two float32 spacings of the value, or of 1 below 1 (the rounding of 1 + e^-|a|)
    spacing = torch.finfo(torch.float32).eps * exact.clamp_min(1)
    assert ((ours - exact).abs() <= 2 * spacing).all()
    # large arguments are the identity; very negative ones underflow towards 0
    assert torch.equal(fastmath.softplus(torch.tensor([30.0, 100.0])), torch.tensor([30.0, 100.0]))
    assert fastmath.softplus(torch.tensor([-100.0])).item() == 0.0


def test_softplus_in_float64_and_its_gradient():
    a = torch.randn(50, dtype=torch.float64) * 4
    assert torch.allclose(fastmath.softplus(a), F.softplus(a), rtol=1e-12, atol=1e-15)
    assert torch.autograd.gradcheck(fastmath.softplus, (a.clone().requires_grad_(),))
    b = a.float().requires_grad_()
    fastmath.softplus(b).sum().backward()
    assert torch.allclose(b.grad, torch.sigmoid(b.detach()), atol=1e-7)


def test_bernoulli_log_prob_broadcasts_like_pyros():
    torch.manual_seed(0)
    logits = torch.randn(10, 1, 784) * 3  # enumerated classes against a batch, as in M2
    x = torch.rand(100, 784).round()
    ours = fastmath.Bernoulli(logits=logits, validate_args=False).to_event(1).log_prob(x)
    pyros = dist.Bernoulli(logits=logits, validate_args=False).to_event(1).log_prob(x)
    assert ours.shape == pyros.shape == (10, 100)
    assert torch.allclose(ours, pyros, rtol=1e-6, atol=1e-3)  # sums of 784 terms of order one
    grey = torch.rand(100, 784)  # values in [0, 1] as well (no validation)
    assert torch.allclose(fastmath.bernoulli_log_prob(logits, grey),
                          -F.binary_cross_entropy_with_logits(*torch.broadcast_tensors(logits, grey), reduction="none"),
                          atol=1e-6)


def test_bernoulli_log_prob_gradients():
    logits = (torch.randn(3, 1, 7, dtype=torch.float64) * 3).requires_grad_()
    value = torch.rand(5, 7, dtype=torch.float64).requires_grad_()
    assert torch.autograd.gradcheck(fastmath.bernoulli_log_prob, (logits, value))


def test_bfloat16_is_computed_in_float32_and_rounded_back():
    a = torch.randn(1000) * 4
    ours = fastmath.softplus(a.bfloat16())
    assert ours.dtype == torch.bfloat16
    # one rounding to bfloat16 of the float32 value, as torch's own bfloat16 softplus
    assert torch.equal(ours, fastmath.softplus(a.bfloat16().float()).bfloat16())
    assert (ours.float() - F.softplus(a.bfloat16()).float()).abs().max() <= 2 ** -7 * ours.float().abs().max()
    b = a.bfloat16().requires_grad_()
    fastmath.softplus(b).sum().backward()
    assert b.grad.dtype == torch.bfloat16
    assert torch.allclose(b.grad.float(), torch.sigmoid(a.bfloat16().float()), atol=2 ** -8)


def test_the_distribution_keeps_its_class_and_validation():
    d = fastmath.Bernoulli(logits=torch.zeros(3))
    assert type(d.expand((2, 3))) is fastmath.Bernoulli
    assert torch.allclose(d.log_prob(torch.tensor([0.0, 1.0, 1.0])), torch.full((3,), -0.6931472))
    with pytest.raises(ValueError):
        d.log_prob(torch.tensor([0.5, 1.0, 1.0]))  # validated by default, like Pyro's
    assert d.enumerate_support().shape == (2, 3)


def test_the_networks_use_it():
    assert ACTIVATIONS["softplus"] is fastmath.Softplus and ACTIVATIONS["relu"] is fastmath.ReLU
    torch.manual_seed(0)
    net = GaussianMLP([4], [8], 3)
    x = torch.randn(5, 4)
    loc, scale = net(x)
    raw = net.net(x).chunk(2, dim=-1)[1]
    assert torch.allclose(scale, F.softplus(raw) + 1e-4, atol=1e-7)


def test_the_values_and_gradients_are_the_plain_expressions_bit_for_bit():
    torch.manual_seed(0)
    logits = (torch.randn(10, 100, 784) * 4).requires_grad_()
    x = torch.rand(100, 784).round()
    tail = torch.log(1 + torch.exp(-logits.detach().abs()))
    softplus = tail + logits.detach().clamp_min(0)
    assert torch.equal(fastmath.softplus(logits).detach(), softplus)
    log_p = fastmath.bernoulli_log_prob(logits, x)
    assert torch.equal(log_p.detach(), x * logits.detach() - softplus)
    # the gradient reaches the logits through the sum over the pixels, broadcast, as in Pyro's to_event;
    # Pyro's sum over the enumerated classes hands it back laid out images first
    weight = torch.randn(100, 10).t()
    grad, = torch.autograd.grad(log_p.sum(-1), logits, weight)  # as computed (.grad would be re-laid out)
    assert torch.equal(grad, weight[..., None] * (x - torch.sigmoid(logits.detach())))
    assert grad.is_contiguous()  # laid out as the logits: no strided product, no copy after it


def test_fusable_expressions_are_as_accurate_have_the_exact_gradient_and_no_log1p():
    """Inside ``fusable()`` (a step recorded for torch.compile) softplus and the log-density are expressions of
    ``exp`` and ``log`` that autograd differentiates: as accurate as torch's softplus, the gradient
    :math:`\\sigma(a)` everywhere (at 0, and at large arguments, where ``exp`` is capped: no overflow), and no
    ``log1p`` (nor torch's functions that call it) in a recording."""
    a = torch.linspace(-40, 40, 400001, dtype=torch.float64)
    exact = F.softplus(a)
    special = torch.tensor([0.0, 20.0, 20.5, 100.0, 1e30, -1e30])
    b = torch.cat([a.float(), special]).requires_grad_()
    with fastmath.fusable():
        ours = fastmath.softplus(b)
    eps = torch.finfo(torch.float32).eps
    assert ((ours[:len(a)].double() - exact).abs() <= 2 * eps * exact.clamp_min(1)).all()
    assert torch.allclose(ours[len(a):], F.softplus(special), rtol=0, atol=1e-6)
    grad, = torch.autograd.grad(ours.sum(), b)
    assert torch.isfinite(grad).all()
    assert torch.allclose(grad, torch.sigmoid(b.detach()), rtol=0, atol=2 * eps)
    # at 0 (where max(a, 0) + log(1 + exp(-|a|)) would give autograd 1) and at the threshold of 20
    assert grad[len(a)] == 0.5 and grad[len(a) + 1] > 0.99

    torch.manual_seed(0)
    logits = (torch.randn(10, 1, 784) * 4).requires_grad_()
    x = torch.rand(100, 784).round()
    with fastmath.fusable():
        log_p = fastmath.bernoulli_log_prob(logits, x)
    assert torch.allclose(log_p, fastmath.bernoulli_log_prob(logits, x), rtol=0, atol=2e-6)
    grad, = torch.autograd.grad(log_p.sum(), logits)
    assert torch.allclose(grad, (x - torch.sigmoid(logits.detach())).sum(1, keepdim=True), rtol=1e-5, atol=1e-4)
    with fastmath.fusable():
        assert fastmath.softplus(torch.randn(8).bfloat16()).dtype == torch.bfloat16

    def loss(a):
        return fastmath.bernoulli_log_prob(fastmath.softplus(a) - 2, x).sum()
    with fastmath.fusable():
        graph = make_fx(loss)(logits.detach())
    targets = " ".join(str(node.target) for node in graph.graph.nodes)
    assert "aten.exp" in targets and "aten.log" in targets
    assert not any(name in targets for name in ("log1p", "softplus", "binary_cross_entropy", "log_sigmoid"))


def test_relu_inside_fusable_is_relu_and_leaves_no_mask_of_booleans():
    """Inside ``fusable()`` the ReLU is (a + |a|) / 2: the same values in float32 and bfloat16, the gradient 1 above 0
    and 0 below (1/2 at 0), and a recording holds no comparison whose boolean result the backward pass would keep."""
    torch.manual_seed(0)
    a = torch.cat([torch.randn(1000) * 3, torch.tensor([0.0, -0.0, 1e-30, -1e-30])]).requires_grad_()
    with fastmath.fusable():
        ours = fastmath.ReLU()(a)
        assert torch.equal(fastmath.relu(a.detach().bfloat16()), F.relu(a.detach().bfloat16()))
    assert torch.equal(ours, F.relu(a))
    grad, = torch.autograd.grad(ours.sum(), a)
    assert torch.equal(grad[:-4], (a.detach()[:-4] > 0).float())
    assert grad[-4:].tolist() == [0.5, 0.5, 1.0, 0.0]
    assert torch.equal(fastmath.relu(a), F.relu(a))  # outside: torch's own
    with fastmath.fusable():
        graph = make_fx(lambda x: fastmath.relu(x).sum())(a.detach())
    targets = " ".join(str(node.target) for node in graph.graph.nodes)
    assert "relu" not in targets and "aten.abs" in targets
