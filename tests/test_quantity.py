"""records.quantity: every unit is scaled for display in one place, the same in text, tables and axes."""

from __future__ import annotations

import math

import pytest

from tfmatrix.records.quantity import Quantity, axis_scale, scale_of


@pytest.mark.parametrize("value,unit,text,compact", [
    (0.1402, "seconds", "140.2 ms", "140ms"),
    (0.00512, "seconds", "5.1 ms", "5.12ms"),
    (0.9, "seconds", "900.0 ms", "900ms"),
    (1.0, "seconds", "1.00 s", "1.00s"),
    (21.4, "seconds", "21.40 s", "21.4s"),
    (1200 * 2**20, "bytes", "1200 MiB", "1200MiB"),
    (1063256064, "bytes", "1014 MiB", "1014MiB"),
    (12 * 2**30, "bytes", "12.00 GiB", "12.0GiB"),
    (7.152, "images/s", "7.15 img/s", "7.15/s"),
    (253.4, "images/s", "253.40 img/s", "253/s"),
    (1.5, "ratio", "×1.50", "×1.50"),
    (0.6667, "ratio", "×0.67", "×0.67"),
    (3.0, "unit", "3 unit", "3unit"),
    (0.0, "seconds", "0.0 ms", "0ms"),
    (math.inf, "ratio", "×inf", "×inf"),  # a base median of 0
    (math.inf, "seconds", "inf ms", "infms"),
])
def test_each_unit_is_scaled_and_rounded_for_people(value, unit, text, compact):
    q = Quantity(value, unit)
    assert (q.text, q.compact, str(q)) == (text, compact, text)


@pytest.mark.parametrize("value", [None, math.nan])
def test_no_value_is_a_dash(value):
    assert Quantity(value, "seconds").text == Quantity(value, "bytes").compact == "–"


def test_an_axis_takes_the_scale_of_its_largest_value():
    assert axis_scale("seconds", [0.2, 0.14, None]).symbol == "ms"
    assert axis_scale("seconds", [0.8, 5.0]).symbol == "s"
    assert axis_scale("bytes", [2**30, 11 * 2**30]).symbol == "GiB"
    assert axis_scale("bytes", []).symbol == "MiB"
    ms = scale_of("seconds", 0.5)
    assert ms.of(0.25) == pytest.approx(250.0) and ms.label("latency") == "latency (ms)"
