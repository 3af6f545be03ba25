"""Great Expectations suites per canonical entity, and the validation that applies them.

GE's analytics must be off before great_expectations is first imported; every module of
this package imports it, and Python runs this file first, so the switch lives here.
"""

import os

os.environ["GX_ANALYTICS_ENABLED"] = "False"
os.environ.setdefault("DO_NOT_TRACK", "1")
