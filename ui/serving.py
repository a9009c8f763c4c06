"""Start the app: on this machine only, or for a team behind a login.

``python -m ui.serving`` (``make run``) serves on 127.0.0.1. ``python -m ui.serving
--address 0.0.0.0`` (``make serve-team``) serves the network, and only when Streamlit's
OpenID Connect login is configured in ``.streamlit/secrets.toml`` (``[auth]``, Authlib
installed); otherwise it refuses to start and says why in one line. The app checks the same
rule on every page (``ui.access``), so starting Streamlit by hand on another address shows
the same refusal instead of the data.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from collections.abc import Mapping
from pathlib import Path

from clustering.io.hosting import read_secrets, team_mode

ROOT = Path(__file__).resolve().parent.parent
PROVIDER_KEYS = ("client_id", "client_secret", "server_metadata_url")
MALLOC_ARENAS = "2"  # glibc's MALLOC_ARENA_MAX for the server (server_environment)


def auth_problem(secrets: Mapping) -> str | None:
    """Why the OpenID Connect login cannot work with these secrets (None: it can)."""
    auth = secrets.get("auth")
    if not isinstance(auth, Mapping):
        return "no [auth] section in .streamlit/secrets.toml (see docs: Running it for a team)"
    for key in ("redirect_uri", "cookie_secret"):
        if not auth.get(key):
            return f"[auth] in .streamlit/secrets.toml has no {key}"
    providers = [auth, *(v for v in auth.values() if isinstance(v, Mapping))]
    if not any(all(p.get(k) for k in PROVIDER_KEYS) for p in providers):
        return f"[auth] in .streamlit/secrets.toml names no provider with {', '.join(PROVIDER_KEYS)}"
    if importlib.util.find_spec("authlib") is None:
        return "the login needs Authlib: pip install -e '.[auth]'"
    return None


def refusal(address: str | None, secrets: Mapping, environ: Mapping[str, str] = os.environ) -> str | None:
    """The one-line reason not to serve ``address`` (None: serve)."""
    if not team_mode(address, environ):
        return None
    problem = auth_problem(secrets)
    if problem is None:
        return None
    where = address or "every interface"
    return f"Refusing to serve {where} without a login: {problem}. Use 127.0.0.1 to run it for yourself."


def server_environment(environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """The server's environment: glibc keeps to two malloc arenas (``MALLOC_ARENA_MAX``,
    unless already set). With an arena per thread that allocates at once, memory freed by one
    session's script thread stayed with that thread's arena: a server kept +37 to +66 MB
    over five batches of six sessions, against +15 to +21 MB, flat, with two
    (``benchmarks/sessions.py --batches 5``). glibc reads it when the process starts, so it
    is set here, before Streamlit runs; a running process cannot lower it."""
    return {**environ, "MALLOC_ARENA_MAX": environ.get("MALLOC_ARENA_MAX", MALLOC_ARENAS)}


def main(argv: list[str] | None = None) -> int:
    """Check the address and the login, then hand over to ``streamlit run app.py``."""
    parser = argparse.ArgumentParser(prog="python -m ui.serving", description=__doc__.splitlines()[0])
    parser.add_argument("--address", default="127.0.0.1", help="address to serve on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8501)
    args = parser.parse_args(argv)
    reason = refusal(args.address, read_secrets())
    if reason:
        print(f"error: {reason}", file=sys.stderr)
        return 2
    command = [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py")]
    command += ["--server.address", args.address, "--server.port", str(args.port)]
    os.execve(sys.executable, command, server_environment())
    return 0  # not reached: execv replaces this process


if __name__ == "__main__":
    sys.exit(main())
