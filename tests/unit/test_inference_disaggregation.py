"""Prefill/decode disaggregation: the KV caches shipped to the decode host, and when it starts."""

import pytest
from test_inference_placement import _lone_request_framework, _serve_alone


@pytest.mark.parametrize("mode", ["cost", "real"])
def test_kv_shipped_is_the_closed_form_and_decode_starts_when_it_has_arrived(tmp_path, mode):
    prompt, output = 24, 4
    fw = _lone_request_framework(tmp_path, prompt, output, {"decode_host": "cloud"}, mode)
    _serve_alone(fw, [0, 1, 1])  # prefill: blocks0 on edge0, blocks1 and lm_head on edge1
    kv = [s for s in fw.sim.sent if s[0] == "kv"]
    layers, d, elt = 2, 256, 4  # 4 blocks in 2 groups, n_embd 256, float32
    assert sorted((a, b, n) for _, a, b, n, _, _ in kv) == [
        ("edge0", "cloud", 2 * layers * prompt * d * elt),
        ("edge1", "cloud", 2 * layers * prompt * d * elt)]
    loop = [s for s in fw.sim.sent if s[0] == "loop"]
    assert [(a, b) for _, a, b, *_ in loop] == [("edge1", "cloud")]  # the first token's id
    ready = max(t for *_, t in kv + loop)
    decode = [c for c in fw.calls if c["phase"] == "decode"]
    assert {c["host"] for c in decode} == {"cloud"}
    assert len(decode) == (output - 1) * len(fw.model.services)
    assert min(c["t_queued_s"] for c in decode) == pytest.approx(ready, abs=1e-12)
    assert {c["host"] for c in fw.calls if c["phase"] == "prefill"} == {"edge0", "edge1"}
    assert all(k.used_bytes == 0 for k in fw.kv.values())  # every reservation freed
    assert len(fw.rows) == 1 and not fw.rows[0]["rejected"]
