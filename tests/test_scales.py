"""Tests for khforecast.engine.scales: domain transforms round-trip and stay in their domain."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from khforecast.engine.scales import DomainError, data_resolution, fit_scale
from khforecast.errors import KhforecastError

_finite = st.floats(-1e3, 1e3, allow_nan=False)


def test_resolution_is_inferred_from_decimals():
    assert data_resolution(np.array([99.4, 98.7, 100.0])) == pytest.approx(0.1)
    assert data_resolution(np.array([12.0, 15.0])) == 1.0
    assert data_resolution(np.array([0.125, 0.5])) == pytest.approx(0.001)


def test_percent_eps_is_half_the_resolution_and_the_bound_is_finite():
    s = fit_scale(np.array([98.9, 99.4, 100.0]), "percent")
    assert s.eps == pytest.approx(0.05)
    z = s.forward(np.array([0.0, 100.0]))
    assert np.all(np.isfinite(z))
    assert s.backward(z) == pytest.approx([0.05, 99.95])


@settings(max_examples=60, deadline=None)
@given(arrays(float, st.integers(1, 20), elements=st.floats(0, 100)))
def test_percent_round_trip_inside_the_clip(values):
    s = fit_scale(values, "percent")
    inside = np.clip(values, s.eps, 100 - s.eps)
    assert s.backward(s.forward(values)) == pytest.approx(inside, rel=1e-9, abs=1e-9)


@settings(max_examples=60, deadline=None)
@given(arrays(float, st.integers(1, 20), elements=st.floats(0, 1e6)))
def test_positive_round_trip_including_zeros(values):
    s = fit_scale(values, "positive")
    assert s.backward(s.forward(values)) == pytest.approx(values, rel=1e-9, abs=1e-9)


@settings(max_examples=60, deadline=None)
@given(arrays(float, st.integers(1, 30), elements=_finite),
       st.sampled_from(["percent", "positive", "real"]))
def test_backward_of_any_draw_lies_in_the_domain(z, domain):
    s = fit_scale(np.array([1.0, 50.0, 99.0]), domain)
    x = s.backward(z * 50)  # far into the tails too
    assert np.all(np.isfinite(x))
    if domain == "percent":
        assert np.all((x >= 0) & (x <= 100))
    if domain == "positive":
        assert np.all(x >= 0)


def test_real_is_identity_and_transforms_are_vectorised():
    s = fit_scale(np.array([-3.0, 2.0]), "real")
    m = np.arange(6.0).reshape(2, 3) - 2
    assert np.array_equal(s.forward(m), m)
    assert s.backward(s.forward(m)).shape == (2, 3)


def test_original_scale_values_at_or_below_zero_enter_the_log_at_the_floor():
    s = fit_scale(np.array([4.0, 8.0]), "positive")
    assert s.forward(np.array([-5.0, 0.0])) == pytest.approx(np.log([2.0, 2.0]))


@pytest.mark.parametrize("values, domain, message", [
    ([50, 101.5], "percent", r"position 1: expected a percent in 0-100, found 101.5"),
    ([3, -1], "positive", r"position 1: expected a value >= 0 .* found -1"),
    ([1, np.nan], "real", r"position 1: expected a finite number, found nan"),
    ([1, 2], "logit", r"domain: expected one of percent, positive, real, found 'logit'"),
])
def test_domain_errors_say_where_and_what(values, domain, message):
    with pytest.raises(DomainError, match=message) as info:
        fit_scale(np.array(values, dtype=float), domain)
    assert isinstance(info.value, KhforecastError)


@pytest.mark.parametrize("values", [[1.0, 1.0, 5e-324], [0.0, 5e-324, 2.0]])
def test_subnormal_values_keep_the_log_finite(values):
    """Half of a subnormal value underflows to 0; the transform must still stay finite."""
    s = fit_scale(np.array(values), "positive")
    z = s.forward(np.array(values + [0.0]))
    assert np.all(np.isfinite(z))
    assert np.all(s.backward(z) >= 0)
