# Keeps secrets out of what the emulator reports: SAS signatures in URLs become "sig=REDACTED".
import re

_SIGNATURE = re.compile(r"([?&]sig=)[^&#\s]*", re.IGNORECASE)


def redact_url(text):
    return _SIGNATURE.sub(r"\1REDACTED", text)
