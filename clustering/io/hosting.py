"""How this server is hosted: its secrets.toml, and whether it serves one analyst or a team.

Standard library only: the app reads these before it draws its navigation, so the first
page appears before pandas, SQLAlchemy or scikit-learn are imported.
"""

from __future__ import annotations

import getpass
import ipaddress
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path

SECRETS = Path(".streamlit/secrets.toml")
TEAM_VARIABLE = "CLUSTERING_TEAM_MODE"


def read_secrets(path: Path = SECRETS) -> dict:
    """secrets.toml as a mapping (empty when there is none)."""
    if not path.is_file():
        return {}
    return tomllib.loads(path.read_text(encoding="utf-8"))


def truthy(value: object) -> bool:
    """A yes/no setting from the environment or a TOML file ("1", "true", "yes", "on")."""
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def is_loopback(host: str | None) -> bool:
    """Whether a server bound to ``host`` is reachable from this machine only. An empty host
    binds every interface, so it is not."""
    if not host:
        return False
    host = host.strip().strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def team_mode(address: str | None, environ: Mapping[str, str] = os.environ) -> bool:
    """Serving a team: bound beyond this machine, or ``$CLUSTERING_TEAM_MODE=1`` (behind a
    reverse proxy on the same host, the bind address is loopback but everyone reaches it)."""
    return truthy(environ.get(TEAM_VARIABLE, "")) or not is_loopback(address)


def system_user() -> str:
    """The operating-system user running this process (who ran a CLI run or a write-back)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (some containers)
        return f"uid {os.getuid()}"
