"""Settings files that read back exactly, names that cannot break them, bundle files' modes."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, make_dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hallsense.settings import load_settings
from provisioning.bundle import env_file_text, env_value, write_node_bundle
from provisioning.registry import UnsafeName, check_name


@dataclass(frozen=True)
class Probe:
    """A settings class of one text field, ``HALLSENSE_VALUE``, read by the real loader."""

    value: str = field(default="", metadata={"help": "anything"})


def read_back(tmp_path, value: str) -> str:
    path = tmp_path / "probe.env"
    path.write_text(env_file_text({"HALLSENSE_VALUE": value}), encoding="utf-8")
    return load_settings(Probe, path, environ={}).value


AWKWARD = [
    'The "Old School" Hall',
    "St Mary's Hall",
    "'single' and \"double\" quotes, ' alone and \" alone",
    "two\nlines",
    "carriage\rreturn and\r\nCRLF",
    "a\ttab",
    "$5 a session",
    "${HOME}",
    "$HOME",
    "${HOME:-somewhere}",
    "${:-$}",
    "$${HOME}}",
    "${",
    "ends with $",
    "back\\slash",
    "C:\\",
    "\\\\",
    '\\"',
    "\\n is not a newline",
    "#1 hall",
    "hall # not a comment",
    "value #",
    " leading and trailing spaces ",
    "",
    "Neuadd Bentref Llanfihangel-yng-Ngwynfa ☃ 𝄞 é",
    "=",
    "KEY=value",
]


@pytest.mark.parametrize("value", AWKWARD)
def test_a_value_reads_back_exactly_through_the_settings_loader(tmp_path, value, monkeypatch):
    # python-dotenv replaces ${HOME} from the process's environment: make sure it has one.
    monkeypatch.setenv("HOME", "/home/somebody")
    assert read_back(tmp_path, value) == value


@settings(max_examples=300, deadline=None)
@given(value=st.text(alphabet=st.characters(exclude_categories=("Cs",))))
def test_any_text_reads_back_exactly(tmp_path_factory, value):
    assert read_back(tmp_path_factory.mktemp("env"), value) == value


def test_every_value_is_one_quoted_line():
    for value in AWKWARD:
        quoted = env_value(value)
        assert quoted.startswith('"')
        assert quoted.endswith('"')
        assert "\n" not in quoted
        assert "\r" not in quoted


def test_a_file_of_several_settings_reads_back(tmp_path):
    values = {f"HALLSENSE_VALUE_{n}": value for n, value in enumerate(AWKWARD)}
    text = env_file_text(values, comments=["made by a test", "# with a hash"])
    assert text.splitlines()[:2] == ["# made by a test", "# # with a hash"]
    assert len(text.splitlines()) == 2 + len(AWKWARD)
    path = tmp_path / "several.env"
    path.write_text(text, encoding="utf-8")
    several = make_dataclass(
        "Several", [(f"value_{n}", str, field(default="")) for n in range(len(AWKWARD))]
    )
    loaded = load_settings(several, path, environ={})
    assert [getattr(loaded, f"value_{n}") for n in range(len(AWKWARD))] == AWKWARD


@pytest.mark.parametrize(
    ("key", "comment", "message"),
    [
        ("hallsense_lower", "", "'hallsense_lower' is not a .env key"),
        ("HALLSENSE BAD", "", "'HALLSENSE BAD' is not a .env key"),
        ("1ST", "", "'1ST' is not a .env key"),
        ("OK", "two\nlines", "a .env comment must be one line"),
    ],
)
def test_bad_keys_and_comments_are_refused(key, comment, message):
    with pytest.raises(ValueError, match=message):
        env_file_text({key: "x"}, comments=[comment] if comment else [])


# --- names ---


@pytest.mark.parametrize(
    ("character", "described"),
    [
        ("\n", "U+000A (line feed)"),
        ("\r", "U+000D (carriage return)"),
        ("\t", "U+0009 (tab)"),
        ("\0", "U+0000 (NUL)"),
        ("\x1b", "U+001B (escape)"),
        ("\x1f", "U+001F"),  # the last C0 control
        ("\x7f", "U+007F (delete)"),
        ("\x85", "U+0085 (next line)"),
        ("\x9f", "U+009F"),  # the last C1 control
        ("\u2028", "U+2028 (line separator)"),
        ("\u2029", "U+2029 (paragraph separator)"),
        ("\udcff", "U+DCFF (not UTF-8)"),
    ],
)
def test_a_name_with_a_control_character_is_refused_naming_both(character, described):
    name = f"The Old{character}School Hall"
    with pytest.raises(UnsafeName) as refused:
        check_name("--site", name)
    message = str(refused.value)
    assert message.startswith(f"--site holds the character {described} at position 8 of ")
    assert "control characters or line breaks" in message


@pytest.mark.parametrize(
    "name",
    [
        " ",  # the first character past the C0 controls
        "~",  # the last before DEL
        "\xa0",  # the first past the C1 controls (no-break space)
        'The "Old School" Hall',
        "St Mary's $5 #1 C:\\ hall",
        "Neuadd Bentref ☃ 𝄞",
        "",
    ],
)
def test_every_other_name_is_kept_as_it_is(name):
    assert check_name("--location", name) is name


# --- the bundle's files ---


@pytest.fixture(params=[0o022, 0o000, 0o077], ids=["umask-022", "umask-000", "umask-077"])
def umask(request):
    previous = os.umask(request.param)
    yield request.param
    os.umask(previous)


TOKEN = "t0ken"  # noqa: S105


def mode(path) -> int:
    return path.stat().st_mode & 0o777


def test_what_holds_the_token_is_private_whatever_the_umask(tmp_path, umask):
    bundle = write_node_bundle(
        tmp_path / "bundles" / "askrigg",
        settings=env_file_text({"HALLSENSE_HALL_NAME": "Askrigg"}),
        ca_certificate=b"-----BEGIN CERTIFICATE-----\n",
        token=TOKEN,
        label_svg="<svg>the QR code of the token</svg>",
        readme="how to install",
    )
    assert mode(bundle) == 0o700
    assert {path.name: mode(path) for path in bundle.iterdir()} == {
        "hallsense-enrol.token": 0o600,
        "label.svg": 0o600,
        "edge.env": 0o644,
        "ca.crt": 0o644,
        "README.txt": 0o644,
    }
    assert (bundle / "hallsense-enrol.token").read_text() == TOKEN + "\n"
    assert (bundle / "edge.env").read_text() == 'HALLSENSE_HALL_NAME="Askrigg"\n'


def test_a_bundle_is_never_written_over(tmp_path):
    (tmp_path / "askrigg").mkdir()
    (tmp_path / "askrigg" / "label.svg").write_text("an earlier label")
    with pytest.raises(FileExistsError):
        write_node_bundle(
            tmp_path / "askrigg",
            settings="",
            ca_certificate=b"",
            token=TOKEN,
            label_svg="",
            readme="",
        )
    assert (tmp_path / "askrigg" / "label.svg").read_text() == "an earlier label"
