"""The staged rollout's pure logic at its limits: which halls, how far, and when it stops."""

from __future__ import annotations

import json

import pytest

from hub.rollouts import (
    FAILED,
    PENDING,
    UPDATED,
    UPDATING,
    Node,
    RolloutError,
    alert_words,
    check_extent,
    check_published,
    check_stop_share,
    check_widening,
    checked_version,
    device_progress,
    extent_words,
    fleet_nodes,
    holds,
    next_step,
    progress,
    should_stop,
    targets,
    update_words,
)
from hub.store import DeviceState, RegisteredDevice, Rollout

FLEET = [f"hall-{n:03d}" for n in range(200)]


def rollout(percent=0, halls=(), *, rollout_id=7, version="1.5.0", stop_share=0.25):
    return Rollout(rollout_id, version, tuple(halls), percent, stop_share, "running", "", "jo", 1)


def node(device_id, *, version="1.4.0", state=None, about=None, error=None, sent=""):
    status = {"version": version}
    if state is not None:
        status["update_state"] = state
    if about is not None:
        status["update_version"] = about
    if error is not None:
        status["update_error"] = error
    return Node(device_id, status, sent)


# --- which halls ---


def test_none_of_the_others_at_0_percent_and_every_one_at_100():
    assert targets(rollout(0), FLEET) == ()
    assert targets(rollout(0, ["hall-005", "hall-001"]), FLEET) == ("hall-005", "hall-001")
    assert set(targets(rollout(100), FLEET)) == set(FLEET)
    everyone = targets(rollout(100, ["hall-150"]), FLEET)
    assert everyone[0] == "hall-150"  # named halls first
    assert sorted(everyone) == FLEET  # and no hall twice


def test_widening_only_ever_adds_halls():
    earlier: set[str] = set()
    for percent in range(0, 101, 5):
        now = set(targets(rollout(percent), FLEET))
        assert earlier <= now, percent
        earlier = now
    # Naming halls leaves every hall the percentage chose where it was.
    chosen = set(targets(rollout(30), FLEET))
    named = [d for d in FLEET if d not in chosen][:5]
    assert chosen | set(named) == set(targets(rollout(30, named), FLEET))


def test_the_share_is_about_the_percentage_stable_and_drawn_per_rollout():
    chosen = targets(rollout(10), FLEET)
    assert 8 <= len(chosen) <= 35
    assert targets(rollout(10), list(reversed(FLEET))) == chosen  # order of the fleet: none
    assert targets(rollout(10, rollout_id=8), FLEET) != chosen
    # A hall registered or revoked moves no other hall in or out.
    assert set(targets(rollout(10), FLEET[:-1])) == set(chosen) - {FLEET[-1]}


def test_named_halls_no_longer_in_the_fleet_are_left_out():
    assert targets(rollout(0, ["gone", "hall-001"]), FLEET) == ("hall-001",)


def test_only_registered_unrevoked_devices_are_in_the_fleet():
    states = [
        DeviceState("askrigg", "A", True, 1, 0, (), 0, json.dumps({"v": 1, "version": "1.4"})),
        DeviceState("reeth", "R", False, None, 0, (), 0, ""),
        DeviceState("old", "O", False, 1, 0, (), 0, "not json"),
    ]
    registered = [
        RegisteredDevice("askrigg", "A", "", 1, False, None, 1),
        RegisteredDevice("reeth", "R", "", 1, False, None, None),
        RegisteredDevice("old", "O", "", 1, True, 2, 1),
    ]
    nodes = fleet_nodes(states, registered, {"askrigg": "1.5.0"})
    assert [(n.device_id, n.sent_release) for n in nodes] == [("askrigg", "1.5.0"), ("reeth", "")]
    assert nodes[0].status["version"] == "1.4"
    assert nodes[1].status == {}


# --- how far each hall is ---


def test_each_halls_progress_from_its_status():
    assert device_progress("1.5.0", {}) == PENDING
    assert device_progress("1.5.0", node("a", state="idle").status) == PENDING
    for state in ("waiting", "downloading", "installing", "checking"):
        assert device_progress("1.5.0", node("a", state=state, about="1.5.0").status) == UPDATING
    assert device_progress("1.5.0", node("a", version="1.5.0", state="updated").status) == UPDATED
    assert device_progress("1.5.0", node("a", version="1.5").status) == UPDATED  # 1.5 is 1.5.0
    assert device_progress("1.5.0", node("a", version="1.6.0").status) == UPDATED
    for state in ("rolled back", "refused", "failed"):
        assert device_progress("1.5.0", node("a", state=state, about="1.5.0").status) == FAILED


def test_a_failure_about_another_version_does_not_count():
    status = node("a", state="rolled back", about="1.4.9", error="health check failed").status
    assert device_progress("1.5.0", status) == PENDING
    done = progress(rollout(100), [Node("a", status)])
    assert (done.pending, done.failed) == (("a",), ())
    assert not should_stop(done, 0.01)


def test_a_hostile_status_is_only_pending():
    for status in ({"version": 15}, {"update_version": ["1.5.0"]}, {"update_state": "rolled back"}):
        assert device_progress("1.5.0", status) == PENDING
    assert device_progress("1.5.0", {"version": "not a version"}) == PENDING


# --- when it stops ---


def finished(updated, failed, updating=0, pending=0):
    nodes = (
        [node(f"u{n}", version="1.5.0") for n in range(updated)]
        + [node(f"f{n}", state="rolled back", about="1.5.0", error=f"e{n}") for n in range(failed)]
        + [node(f"w{n}", state="downloading", about="1.5.0") for n in range(updating)]
        + [node(f"p{n}") for n in range(pending)]
    )
    return progress(rollout(100), nodes)


def test_it_stops_when_the_stop_share_is_exactly_reached_and_not_just_below():
    assert should_stop(finished(3, 1), 0.25)  # 1 of 4: exactly a quarter
    assert not should_stop(finished(4, 1), 0.25)  # 1 of 5: a fifth
    assert should_stop(finished(7, 3), 0.3)  # 3 of 10: exactly 0.3
    assert not should_stop(finished(8, 3), 0.3)  # 3 of 11
    assert should_stop(finished(0, 1), 1.0)  # every finished hall failed
    assert not should_stop(finished(1, 1), 1.0)


def test_it_needs_a_failure_and_counts_only_the_halls_that_finished():
    assert not should_stop(finished(0, 0, updating=5, pending=5), 0.01)
    assert should_stop(finished(0, 1, updating=50, pending=50), 0.25)  # a first hall fails
    assert not should_stop(finished(4, 1, updating=50), 0.25)


def test_the_next_step_stops_sends_or_completes():
    version = "1.5.0"
    nodes = [
        node("a", sent=version, state="idle"),
        node("b", state="idle"),
        node("c", version=version, sent=version, state="updated", about=version),
        node("old"),  # a release from before updates: it has no updater to say so
    ]
    step = next_step(rollout(100), nodes)
    assert (step.send, step.stop_reason, step.complete) == (("b",), "", False)
    assert step.progress.pending == ("a", "b", "old")
    everyone = [node(d, version=version, sent=version) for d in "abc"]
    assert next_step(rollout(100), everyone).complete
    # Below 100 % a rollout is never complete: the rest of the fleet waits to be reached.
    assert not next_step(rollout(0, ["a", "b", "c"]), everyone).complete
    failing = [*everyone, node("d", state="refused", about=version, error="bad signature")]
    step = next_step(rollout(100), failing)
    assert step.stop_reason == (
        "1 of the 4 halls that finished failed (25 %), at or over the stop share of 25 %"
    )
    assert step.progress.failures == ("d: refused: bad signature",)
    words = alert_words(rollout(100), step.progress, step.stop_reason)
    assert "release 1.5.0 (rollout 7) stopped by itself" in words
    assert "- d: refused: bad signature" in words


def test_only_halls_allowed_the_release_that_have_not_started_hold():
    stopped = rollout(100)
    nodes = [
        node("pending", sent="1.5.0"),
        node("never-sent"),
        node("downloading", state="downloading", about="1.5.0", sent="1.5.0"),
        node("failed", state="failed", about="1.5.0", sent="1.5.0"),
        node("updated", version="1.5.0", sent="1.5.0"),
        node("another", sent="1.6.0"),
        node("taken-over", sent="1.5.0"),
    ]
    assert holds(stopped, nodes, keep=["taken-over"]) == ("pending",)


# --- what may be asked ---


def test_bad_requests_are_named():
    assert checked_version("1.5.0") == "1.5.0"
    with pytest.raises(RolloutError, match="VERSION: 'latest' is not a release version"):
        checked_version("latest")
    with pytest.raises(RolloutError, match="--hall: nowhere is not a registered device"):
        check_extent(["askrigg", "nowhere"], 10, ["askrigg"])
    with pytest.raises(RolloutError, match="--percent: 101 is not a percentage"):
        check_extent([], 101, [])
    check_extent([], 0, [])
    check_extent([], 100, [])
    for share in (0.0, -0.1, 1.01):
        with pytest.raises(RolloutError, match="--stop-share"):
            check_stop_share(share)
    check_stop_share(1.0)
    check_widening(rollout(10), 10)
    with pytest.raises(RolloutError, match="reaches 10 % of the others already"):
        check_widening(rollout(10), 9)


def test_a_version_must_be_published_and_is_taken_as_the_repository_spells_it():
    published = {"aarch64": "1.5.0", "armv7l": "1.4.0"}
    assert check_published("1.5", published, "/srv/releases") == "1.5.0"
    with pytest.raises(RolloutError, match=r"1.6.0 is not published .* aarch64 1.5.0, armv7l"):
        check_published("1.6.0", published, "/srv/releases")
    with pytest.raises(RolloutError, match="nothing is published there yet"):
        check_published("1.6.0", {}, "/srv/releases")


def test_words_for_people():
    assert (
        extent_words(rollout(10, ["askrigg", "reeth"])) == "askrigg, reeth and 10 % of the others"
    )
    assert extent_words(rollout(0, ["askrigg"])) == "askrigg"
    assert extent_words(rollout(25)) == "25 % of the halls"
    assert update_words({}) == ""
    assert update_words({"update_state": "idle", "update_version": "1.4.0"}) == "idle"
    assert update_words({"update_state": "downloading", "update_version": "1.5.0"}) == (
        "downloading 1.5.0"
    )
    failed = {"update_state": "rolled back", "update_version": "1.5.0", "update_error": "no\nstart"}
    assert update_words(failed) == "rolled back 1.5.0: no start"
