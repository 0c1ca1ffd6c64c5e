"""Where each file of the hub's provisioning state directory is.

Everything provisioning keeps lives under one directory (``--state-dir DIR`` or
``HALLSENSE_PROVISION_DIR``)::

    DIR/state.json                 what init was asked for (names, ports, the broker's user)
    DIR/ca/ca.crt, ca.key          the council CA (0700 directory, key 0600, never the broker's)
    DIR/secrets/<account>.password the service accounts' passwords (0700 directory, 0600 files)
    DIR/mosquitto/mosquitto.conf   ready for ``mosquitto -c``
    DIR/mosquitto/passwords        device and read-only accounts (the network listeners)
    DIR/mosquitto/service-passwords the hub's account (the service listener)
    DIR/mosquitto/acl
    DIR/mosquitto/certs/           ca.crt, server.crt, server.key (key 0600)
    DIR/mosquitto/data/            Mosquitto's persistence
    DIR/nginx/hallsense-hub.conf   with ``--web-proxy nginx``: the site for one TLS port
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class StateLayout:
    """Where each file of a provisioning state directory is."""

    root: Path

    @property
    def settings_path(self) -> Path:
        """``state.json``: what ``init`` was asked for."""
        return self.root / "state.json"

    @property
    def lock_path(self) -> Path:
        """Held while the password file changes, so two commands never lose an update."""
        return self.root / ".lock"

    @property
    def ca_dir(self) -> Path:
        """The CA's directory (0700)."""
        return self.root / "ca"

    @property
    def ca_cert(self) -> Path:
        """The council CA's certificate: what nodes trust."""
        return self.ca_dir / "ca.crt"

    @property
    def ca_key(self) -> Path:
        """The council CA's private key (0600)."""
        return self.ca_dir / "ca.key"

    @property
    def secrets_dir(self) -> Path:
        """The service accounts' passwords (0700)."""
        return self.root / "secrets"

    def account_password_path(self, account: str) -> Path:
        """The 0600 file holding a service account's password."""
        return self.secrets_dir / f"{account}.password"

    @property
    def mosquitto_dir(self) -> Path:
        """The broker's configuration directory."""
        return self.root / "mosquitto"

    @property
    def conf_path(self) -> Path:
        """``mosquitto.conf``, for ``mosquitto -c``."""
        return self.mosquitto_dir / "mosquitto.conf"

    @property
    def password_path(self) -> Path:
        """The network listeners' password file: devices and the read-only account."""
        return self.mosquitto_dir / "passwords"

    @property
    def service_password_path(self) -> Path:
        """The service listener's password file: the hub's account only."""
        return self.mosquitto_dir / "service-passwords"

    @property
    def acl_path(self) -> Path:
        """The ACL file."""
        return self.mosquitto_dir / "acl"

    @property
    def certs_dir(self) -> Path:
        """The broker's certificates and key."""
        return self.mosquitto_dir / "certs"

    @property
    def broker_ca_cert(self) -> Path:
        """The CA certificate, copied where the broker reads it."""
        return self.certs_dir / "ca.crt"

    @property
    def server_cert(self) -> Path:
        """The broker's server certificate."""
        return self.certs_dir / "server.crt"

    @property
    def server_key(self) -> Path:
        """The broker's private key (0600, the broker's user's)."""
        return self.certs_dir / "server.key"

    @property
    def data_dir(self) -> Path:
        """Mosquitto's persistence."""
        return self.mosquitto_dir / "data"

    @property
    def nginx_site(self) -> Path:
        """The nginx site for one TLS port (``provision init --web-proxy nginx``)."""
        return self.root / "nginx" / "hallsense-hub.conf"
