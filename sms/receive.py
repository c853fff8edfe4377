"""gammu-smsd's RunOnReceive: ``python -m sms.receive --site SITE FILE...``.

Stores the message (number and text from the environment gammu-smsd sets), deletes
gammu's inbox files (their names hold the number), then handles it and sends the
reply. Only storing must succeed here: whatever a crash interrupts after that, the
worker's next ``sms`` tick finishes, without doing anything twice.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sms.receive")
    parser.add_argument("--site", default=os.environ.get("ESPACE_SITE", "/etc/espace/site.toml"))
    parser.add_argument("files", nargs="*")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
    from appliance.app import create_core_app
    from appliance.db import database

    from . import gammu, outgoing, rules
    from .crash import crash_point

    # The core app only (settings, database, languages): no page is served here, and
    # every message costs one process start.
    app = create_core_app({"SITE_FILE": args.site})
    site = app.config["SITE"]
    with app.app_context():
        database.connect(reuse_if_open=True)
        try:
            msg = gammu.from_environ(os.environ, args.files)
            rules.store(msg)
            crash_point("sms:received")
            spool = gammu.Spool.for_site(site)
            gammu.delete_inbox(spool, args.files)
            if site.sms.enabled:
                rules.handle_pending()
                outgoing.flush(spool, site)
        except Exception:
            import traceback

            # Masked: an error's text may quote the number.
            logging.getLogger("espace.sms").error(
                "receiving failed; the worker's next sms run takes the message from the "
                "inbox folder:\n%s",
                gammu.mask_numbers(traceback.format_exc()),
            )
            return 1
        finally:
            database.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
