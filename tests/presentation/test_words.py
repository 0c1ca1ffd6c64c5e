from datetime import UTC, datetime, timedelta

from presentation.words import ago

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)


def test_ago_in_words():
    assert ago(NOW - timedelta(seconds=1), NOW) == "just now"
    assert ago(NOW - timedelta(minutes=3, seconds=5), NOW) == "3 minutes ago"
    assert ago(NOW - timedelta(days=2), NOW) == "2 days ago"
    assert ago(NOW + timedelta(hours=1), NOW) == "in the future (clock not yet set?)"
