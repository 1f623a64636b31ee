"""Email backends that fail like a real mail server does, for the invitation-mail tests."""

import os
from pathlib import Path
from smtplib import SMTPServerDisconnected

from django.core.mail.backends.base import BaseEmailBackend


class AlwaysDown(BaseEmailBackend):
    def send_messages(self, email_messages):  # noqa: ANN001, ANN201
        raise SMTPServerDisconnected("Connection unexpectedly closed")


class DownOnceThenFile(BaseEmailBackend):
    """For a Celery worker process: the first send fails, later ones write the message to the
    file named by $FLAKY_MAIL_FILE (the test reads it back). The attempt count is a file too."""

    def send_messages(self, email_messages):  # noqa: ANN001, ANN201
        target = Path(os.environ["FLAKY_MAIL_FILE"])
        attempts = target.with_suffix(".attempts")
        count = int(attempts.read_text()) if attempts.exists() else 0
        attempts.write_text(str(count + 1))
        if count == 0:
            raise SMTPServerDisconnected("Connection unexpectedly closed")
        with target.open("a") as out:
            for message in email_messages:
                out.write(message.message().as_string() + "\n")
        return len(email_messages)
