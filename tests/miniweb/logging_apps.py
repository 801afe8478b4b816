"""miniweb apps for the logging tests that run ``python -m server`` in a subprocess."""

from __future__ import annotations

import logging

from miniweb import App, configure_logging


def _hello_app(**options) -> App:
    app = App(template_folder=None, **options)

    @app.route("/")
    def index(request):
        logging.getLogger("logging_apps").info("handled %s", request.path)
        return "hello"

    return app


default = _hello_app()  # the per-request line is the server's access line alone
request_log = _hello_app(request_log=True)  # asks for miniweb's own line too

# What a user writes at the top of an app module; under `python -m server` lines must not double.
configure_logging("INFO")
configure_logging("INFO")
configured = _hello_app()
