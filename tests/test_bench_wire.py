"""The wire benchmark's link measurement (``python -m bench wire``) in miniature, so its code
cannot rot: every link profile and a drain over TLS through the counting relay, a few
simulated hours each. Not a timed assertion: the benchmark states the figures."""

from __future__ import annotations

import pytest

from bench.wire_link import PROFILES, link_table, per_reading


@pytest.mark.slow  # a TLS broker, a hub and a node per profile: about 10 s
def test_every_profile_and_a_drain_are_counted_through_the_relay(capsys):
    runs = link_table(scale=0.02, capture=False, ping_idle_s=2.0)
    assert set(runs) == {*PROFILES, "drain"}
    for name, (run,) in runs.items():
        assert run.readings > 0, name
        assert run.stream.up > 0, name
        assert run.stream.down > 0, name
        stream, ip = per_reading(run)
        assert stream > 0, name
        assert ip is None, name  # no capture in tests
    # A longer window sends fewer, larger messages.
    sizes = [runs[name][0].readings / runs[name][0].batches for name in PROFILES]
    assert sizes == sorted(sizes)
    assert "| metered" in capsys.readouterr().out
