"""Request sources: the Azure trace as its README describes it, windows, Poisson, UEs."""

import gzip
import hashlib

import numpy as np
import pytest

from edgelam_ns3.inference.requests import (TRACE_SHA256, map_to_ues, trace_path, poisson_requests, read_azure_trace,
                                            trace_requests, trace_window)


def test_azure_conversation_trace_has_the_rows_and_span_its_readme_gives():
    t_s, ctx, gen = read_azure_trace("conversation")
    assert len(t_s) == len(ctx) == len(gen) == 19366
    assert t_s[0] == 0 and t_s[-1] == pytest.approx(3501.72, abs=0.01)
    assert np.all(np.diff(t_s) >= 0)
    assert (ctx[0], gen[0]) == (374, 44)  # the first row of the CSV


@pytest.mark.parametrize("name", ["conversation", "coding"])
def test_shipped_trace_decompresses_to_the_upstream_blob(name):
    digest = hashlib.sha256(gzip.decompress(trace_path(name).read_bytes())).hexdigest()
    assert digest == TRACE_SHA256[name]


def test_rate_scale_compresses_a_window_into_the_same_duration():
    t_s = np.array([0.0, 1.0, 2.5, 3.9, 4.0, 7.0])
    idx, arrival = trace_window(t_s, 1.0, 1.5, 2.0)  # trace [1, 4) -> simulated [0, 1.5)
    assert list(idx) == [1, 2, 3]
    assert np.allclose(arrival, [0.0, 0.75, 1.45])


def test_trace_requests_carry_the_trace_token_counts_onto_the_ues():
    reqs = trace_requests("coding", 0.0, 30.0, 1.0, ["ue0", "ue1", "ue2"])
    t_s, ctx, gen = read_azure_trace("coding")
    n = int(np.sum(t_s < 30.0))
    assert len(reqs) == n
    assert [r.prompt_tokens for r in reqs] == [max(int(c), 1) for c in ctx[:n]]
    assert [r.ue for r in reqs[:4]] == ["ue0", "ue1", "ue2", "ue0"]


def test_poisson_arrivals_have_the_configured_rate_and_sizes():
    reqs = poisson_requests(20.0, 500.0, 128, 16, ["ue0"], seed=3)
    assert len(reqs) == pytest.approx(10000, rel=0.03)
    gaps = np.diff([r.t_arrival_s for r in reqs])
    assert gaps.mean() == pytest.approx(1 / 20, rel=0.03)
    assert gaps.std() == pytest.approx(gaps.mean(), rel=0.05)  # exponential: std = mean
    assert {(r.prompt_tokens, r.output_tokens) for r in reqs} == {(128, 16)}


def test_unknown_ue_mapping_is_rejected_naming_the_field():
    with pytest.raises(ValueError, match="inference.source.ue_mapping"):
        map_to_ues(3, ["ue0"], "nearest", 1)
