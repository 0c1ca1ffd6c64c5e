"""The node's data directory layout: the names existing nodes wrote, and every user on it."""

from pathlib import Path

from edge.layout import DataDir
from edge.lock import AgentLock
from edge.settings import EdgeSettings
from hallsense.wiring_enrol import credentials_path
from hallsense.wiring_web import downlink_page_settings_path

ROOT = Path("/var/lib/hallsense")

# Written out as a node of the previous release (before edge/layout.py) made them, so a
# rename here fails the test instead of orphaning the files in halls' data directories.
PREVIOUS_RELEASE = {
    "hallsense.db",
    "hallsense.db-wal",
    "hallsense.db-shm",
    "hallsense.db-journal",
    "agent.lock",
    "credentials.json",
    "page-settings.json",
    "page-settings.json.new",
}
ADDED_SINCE = {
    "release-allowed.json",  # updates from the hub (#17)
    "update-state.json",
    "hub-time.json",  # a clock without NTP (#18)
}


def test_the_layout_names_exactly_the_files_a_node_of_the_previous_release_wrote():
    layout = DataDir(ROOT)
    assert all(path.parent == ROOT for path in layout.files)
    assert sorted(path.name for path in layout.files) == sorted(PREVIOUS_RELEASE | ADDED_SINCE)
    assert layout.db.name == "hallsense.db"
    assert [path.name for path in layout.db_files] == [
        "hallsense.db",
        "hallsense.db-wal",
        "hallsense.db-shm",
        "hallsense.db-journal",
    ]
    assert layout.agent_lock.name == "agent.lock"
    assert layout.credentials.name == "credentials.json"
    assert layout.page_settings.name == "page-settings.json"
    assert layout.page_settings_pending.name == "page-settings.json.new"


def test_counting_drivers_journal_beside_the_store_by_their_name(tmp_path):
    layout = DataDir(tmp_path)
    assert layout.count_journal("gpio") == tmp_path / "gpio-counts.journal"
    assert layout.count_journals() == []
    layout.count_journal("gpio").write_text("")
    layout.count_journal("door").write_text("")
    (tmp_path / "gpio-counts.journal.tmp").write_text("")  # not a journal
    assert [p.name for p in layout.count_journals()] == [
        "door-counts.journal",
        "gpio-counts.journal",
    ]


def test_a_wipe_deletes_every_file_of_the_layout_but_the_lock_it_holds():
    layout = DataDir(ROOT)
    assert set(layout.wiped) | set(layout.kept_by_wipe) == set(layout.files)
    assert not set(layout.wiped) & set(layout.kept_by_wipe)
    assert layout.kept_by_wipe == (layout.agent_lock,)


def test_every_user_of_the_data_directory_takes_its_paths_from_the_layout(tmp_path):
    settings = EdgeSettings(data_dir=tmp_path)
    layout = DataDir(tmp_path)
    assert settings.layout == layout
    assert settings.db_path == layout.db
    assert AgentLock(tmp_path).path == layout.agent_lock
    assert credentials_path(settings) == layout.credentials
    assert downlink_page_settings_path(settings) == layout.page_settings
    # hub_sync may not import edge; its own name for the file must not drift from ours.
