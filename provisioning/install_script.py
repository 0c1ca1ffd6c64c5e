r"""The bundle's ``install.sh`` and README: one command installs a node with no internet.

The script is kept small on purpose: it checks what apt must provide (python3 3.11 or
newer, python3-venv) and says which ``apt-get install`` to run if something is missing;
picks the bundle's wheelhouse for the machine; makes the version's environment in
``/opt/hallsense/releases/<version>/`` with ``pip --no-index`` unless it is there whole
(``.complete``, written last, as ``edge.release_slots`` does); and hands over to that
version's ``hallsense edge install``, which does everything else in tested Python
(``edge/installer.py``). A node already running a newer version (it has updated itself
since the bundle was made) is repaired by that version's ``edge install`` instead.

The machine is ``uname -m`` as Python sees it: a Pi 4 or 5 running the 32-bit Raspberry
Pi OS has a 64-bit kernel (aarch64) under a 32-bit Python, which needs the armv7l wheels.
"""

from __future__ import annotations

INSTALL_SCRIPT_MODE = 0o755

INSTALL_SCRIPT = r"""#!/usr/bin/env bash
# Install (or repair) this hallsense node from its bundle, with no internet:
#
#   sudo bash /boot/firmware/hallsense/install.sh [--no-start] [--replace-settings] [--root DIR]
#
# Needs python3 (3.11 or newer) and python3-venv, which Raspberry Pi OS has; everything
# else comes from this bundle's wheelhouse. Safe to run again: it repairs. See
# docs/operations.md, "Installing on a Raspberry Pi".
set -o errexit -o nounset -o pipefail
umask 022 # the service user must be able to read and run what is installed

bundle=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=/
passed=()
while [ $# -gt 0 ]; do
    case "$1" in
        --root)
            if [ $# -lt 2 ] || [ ! -d "$2" ]; then
                echo "install.sh: --root needs a directory" >&2
                exit 2
            fi
            root=$(cd "$2" && pwd)
            passed+=(--root "$root")
            shift 2
            ;;
        --no-start | --replace-settings) passed+=("$1"); shift ;;
        -h | --help) sed -n '2,8s/^# \{0,1\}//p' "$0"; exit 0 ;;
        *) echo "install.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done

fail() {
    echo "install.sh: $*" >&2
    exit 1
}

[ "$(id -u)" = 0 ] || fail "run it as root: sudo bash $0"
command -v python3 >/dev/null 2>&1 ||
    fail "python3 is missing; install it with: sudo apt-get install -y python3 python3-venv"
python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
    fail "hallsense needs Python 3.11 or newer; this is $(python3 -V 2>&1) (bookworm has 3.11)"
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 ||
    fail "python3-venv is missing; install it with: sudo apt-get install -y python3-venv"

arch=$(python3 -c '
import platform, struct
machine = platform.machine()
if machine in ("aarch64", "arm64") and struct.calcsize("P") == 4 or machine.startswith("armv"):
    machine = "armv7l"
print("aarch64" if machine == "arm64" else machine)')
[ -d "$bundle/wheelhouse" ] ||
    fail "this bundle has no wheelhouse: on a machine with internet access run
    hallsense provision wheelhouse --out wheelhouse
and make the bundle again with: hallsense provision add-device ... --wheelhouse wheelhouse"
wheels="$bundle/wheelhouse/$arch"
shopt -s nullglob
found=("$wheels"/hallsense-*.whl)
shopt -u nullglob
[ "${#found[@]}" -gt 0 ] ||
    fail "the bundle's wheelhouse has no wheels for this machine ($arch), only for:" \
        "$(ls "$bundle/wheelhouse" | tr '\n' ' ')- make them with:" \
        "hallsense provision wheelhouse --out wheelhouse --architecture $arch"
[ "${#found[@]}" = 1 ] || fail "$wheels holds ${#found[@]} hallsense wheels; keep one"
version=$(basename "${found[0]}")
version=${version#hallsense-}
version=${version%%-*}
case "$version" in
    "" | .* | */*) fail "${found[0]} is not named as a wheel of a hallsense version" ;;
esac

# Nothing from the caller's environment steers pip or Python.
for name in $(compgen -e); do
    case "$name" in PIP_* | PYTHON*) unset "$name" ;; esac
done
opt="${root%/}/opt/hallsense"
release="$opt/releases/$version"

# A node that has updated itself past the bundle's version repairs with the version it
# runs (which writes its own units), rather than going back or making the old one again.
if [ -e "$opt/current/.complete" ]; then
    running=$(basename "$(readlink "$opt/current")")
    if [ "$running" != "$version" ] && "$opt/current/bin/python" -c '
import sys
from packaging.version import Version
sys.exit(Version(sys.argv[1]) <= Version(sys.argv[2]))' "$running" "$version" 2>/dev/null; then
        echo "install.sh: this node runs hallsense $running, newer than the bundle's $version"
        exec "$opt/current/bin/hallsense" edge install --bundle "$bundle" "${passed[@]}"
    fi
fi
if [ ! -e "$release/.complete" ]; then
    echo "install.sh: making hallsense $version's environment in $release (minutes on a Pi)"
    rm -rf "$release"
    mkdir -p "$(dirname "$release")"
    if ! { python3 -m venv "$release" &&
        "$release/bin/python" -m pip install --quiet --no-index --find-links "$wheels" \
            "hallsense==$version"; }; then
        rm -rf "$release"
        fail "could not install hallsense $version from $wheels (pip's words above)"
    fi
    echo "$version" >"$release/.complete"
fi
exec "$release/bin/hallsense" edge install --bundle "$bundle" "${passed[@]}"
"""

README = """\
hallsense node for {site} (device {device_id})

Install it on the Pi (Raspberry Pi OS Lite, bookworm), no internet needed:

1. Copy this folder to the SD card's boot partition as hallsense/ (or to a USB stick).
2. On the Pi: sudo bash /boot/firmware/hallsense/install.sh
   It makes the hallsense user, puts the settings in /etc/hallsense, installs
   hallsense into /opt/hallsense and starts the node. Run it again to repair.
3. On first start the node fetches its broker password from the council's hub over
   TLS with the one-time enrolment token, then deletes its copy of the token. Delete
   this folder from the boot partition afterwards. The token works once, until
   {expires}.
4. Keep label.svg with the installation papers, not on the wall: whoever has the code
   can enrol this device once.

{wheelhouse}
The council CA's fingerprint is {fingerprint}.
"""

NO_WHEELHOUSE = """\
This bundle has no wheelhouse, so install.sh cannot install hallsense yet: make one
with `hallsense provision wheelhouse --out DIR` on a machine with internet access and
the bundle with `hallsense provision add-device ... --wheelhouse DIR`.
"""
WITH_WHEELHOUSE = "Its wheelhouse has hallsense for: {architectures}.\n"
