"""A Keras 3 model on its torch backend is a shard like any other (doc/keras.md).

The claims of doc/keras.md, checked: the Keras model is a ``torch.nn.Module``; it computes the
same function as the equivalent ``torch.nn`` model with the same weights, and passes the cut
gradient back to its input (what split learning needs); the compute model counts its FLOPs at
the closed form of its matrix products; and it runs as a job on a simulated device, charged the
duration the device profile gives for those counts.
"""

import os

import pytest
import torch

# The backend is chosen once, when keras is first imported; only this module imports keras.
os.environ.setdefault("KERAS_BACKEND", "torch")
import keras  # noqa: E402  (the [test] extra installs it: pyproject.toml)

from edgelam_ns3.compute import Device, DeviceProfile, duration_s, measure  # noqa: E402

torch.set_num_threads(1)

B, D_IN, D_HID, D_OUT = 8, 16, 32, 4


@pytest.fixture(scope="module")
def keras_model():
    if keras.backend.backend() != "torch":
        pytest.fail(f"keras was imported with backend {keras.backend.backend()!r}; "
                    "KERAS_BACKEND=torch must be set before the first import")
    keras.utils.set_random_seed(0)
    inp = keras.Input((D_IN,))
    hidden = keras.layers.Dense(D_HID, activation="relu", name="fc1")(inp)
    out = keras.layers.Dense(D_OUT, name="fc2")(hidden)
    return keras.Model(inp, out)


def _torch_twin(model) -> torch.nn.Sequential:
    """The same network in torch.nn, with the Keras weights copied in (Keras keeps [in, out])."""
    fc1, fc2 = model.get_layer("fc1"), model.get_layer("fc2")
    twin = torch.nn.Sequential(torch.nn.Linear(D_IN, D_HID), torch.nn.ReLU(),
                               torch.nn.Linear(D_HID, D_OUT))
    with torch.no_grad():
        for lin, layer in ((twin[0], fc1), (twin[2], fc2)):
            kernel, bias = (w.value.detach() for w in (layer.kernel, layer.bias))
            lin.weight.copy_(kernel.T)
            lin.bias.copy_(bias)
    return twin


def test_keras_model_on_torch_backend_is_a_torch_module_with_its_weights(keras_model):
    assert isinstance(keras_model, torch.nn.Module)
    assert sum(p.numel() for p in keras_model.parameters()) == keras_model.count_params()
    assert keras_model.count_params() == D_IN * D_HID + D_HID + D_HID * D_OUT + D_OUT


def test_keras_shard_matches_torch_twin_and_passes_the_cut_gradient(keras_model):
    twin = _torch_twin(keras_model)
    x = torch.randn(B, D_IN, generator=torch.Generator().manual_seed(1))
    x_k, x_t = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    y_k, y_t = keras_model(x_k), twin(x_t)
    assert isinstance(y_k, torch.Tensor)
    torch.testing.assert_close(y_k, y_t)
    y_k.square().mean().backward()
    y_t.square().mean().backward()
    # The gradient at the cut (the shard's input) is what a split-learning server sends back.
    torch.testing.assert_close(x_k.grad, x_t.grad)


def test_keras_shard_flops_are_the_closed_form_of_its_matrix_products(keras_model):
    x = torch.randn(B, D_IN, requires_grad=True)
    forward = 2 * B * (D_IN * D_HID + D_HID * D_OUT)
    assert measure(lambda: keras_model(x)).flops == forward

    def train_step():
        keras_model(x).sum().backward()

    # Backward: gradient w.r.t. each weight and w.r.t. each layer's input (x requires grad),
    # each as many FLOPs as the forward product.
    assert measure(train_step).flops == 3 * forward


def test_keras_shard_runs_as_a_job_charged_by_the_device_profile(keras_model):
    profile = DeviceProfile("test", peak_flops=4e9, efficiency=0.5, mem_bw_bytes_per_s=2e9)

    class Clock:
        now, pending = 0.0, []

        def schedule(self, delay_s, fn):
            self.pending.append((self.now + delay_s, fn))

    clock, records, results = Clock(), [], []
    device = Device("edge0", profile, clock, on_job=records.append)
    x = torch.randn(B, D_IN)
    device.submit("keras_forward", lambda: keras_model(x), results.append)
    (t_end, finish), = clock.pending
    clock.now = t_end
    finish()
    rec, = records
    assert rec["flops"] == 2 * B * (D_IN * D_HID + D_HID * D_OUT)
    assert rec["t_end_s"] == pytest.approx(duration_s(profile, rec["flops"], rec["bytes_moved"]))
    assert results[0].shape == (B, D_OUT)
