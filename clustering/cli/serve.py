"""``serve``: the read-only cluster summary API (FastAPI), on loopback unless a token is set."""

from __future__ import annotations

import argparse
import logging
import os

from clustering.errors import UserInputError


def register(commands) -> None:
    """The ``serve`` command."""
    serve = commands.add_parser("serve", help="the read-only cluster summary API (FastAPI)")
    serve.add_argument("--database", nargs="?", const="", help="SQLAlchemy URL (default: $CLUSTERING_DB_URL)")
    serve.add_argument("--config", default="dfu", help="YAML file, or a preset name: dfu (default)")
    serve.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1); any other needs $CLUSTERING_API_TOKEN",
    )
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")

    serve.set_defaults(handler=serve_api)


def serve_api(args: argparse.Namespace) -> int:
    from clustering.config import load_config
    from clustering.io.database import URL_VARIABLE, masked, resolve_url
    from clustering.io.hosting import is_loopback

    try:
        import uvicorn

        from clustering.api import TOKEN_VARIABLE, create_app
    except ImportError:
        raise UserInputError("The API needs FastAPI and uvicorn: pip install -e '.[api]'.") from None
    url = resolve_url(args.database or None)
    if not url:
        raise UserInputError(f"No database URL: pass --database URL or set ${URL_VARIABLE}.")
    token = os.environ.get(TOKEN_VARIABLE) or None
    if token is None and not is_loopback(args.host):
        raise UserInputError(
            f"Refusing to serve {args.host} without a token: set ${TOKEN_VARIABLE} (callers send "
            "'Authorization: Bearer <token>'), or serve 127.0.0.1."
        )
    app = create_app(url, load_config(args.config), token)
    logging.basicConfig(format="%(asctime)s %(name)s %(message)s", level=logging.WARNING)
    logging.getLogger("clustering.api").setLevel(logging.INFO)
    print(f"serving {masked(url)} on http://{args.host}:{args.port} (docs: /docs)", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0
