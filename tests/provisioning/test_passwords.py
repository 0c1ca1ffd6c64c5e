import base64

from provisioning.passwords import mosquitto_hash, new_password, verify

# Made by `mosquitto_passwd -b pw alice secret` (Mosquitto 2.0.11).
MOSQUITTO_LINE = (
    "alice:$7$101$9j6LQASxLwvQXWzk$8KbbLPwibCndAgLxeM4m+Xl0qa/fZQtuEtTR9scAsIC3gzPMtJiDqjr4lJb6"
    "ryZCpm+WFtCSHf6RMYyg5EcNGw=="
)


def test_hashes_match_mosquitto_passwd():
    hashed = MOSQUITTO_LINE.split(":", 1)[1]
    salt = base64.b64decode(hashed.split("$")[3])
    assert mosquitto_hash("secret", salt=salt) == hashed
    assert verify("secret", hashed)
    assert not verify("Secret", hashed)


def test_passwords_are_strong_and_never_repeat():
    passwords = {new_password() for _ in range(100)}
    assert len(passwords) == 100
    assert all(len(p) >= 43 for p in passwords)


def test_each_hash_has_its_own_salt():
    assert mosquitto_hash("same") != mosquitto_hash("same")
