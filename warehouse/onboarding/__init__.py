"""Onboarding a hospital: what its extracts are like before anything is loaded.

`detect` reads the bytes of a 43-file folder and says how it is written; `extract_check`
reads it through the real connector and the real expectations, in memory, and reports what
a first ingest would do; `scaffold` writes a new hospital's registry YAML. Nothing here
writes to the warehouse, and no report carries a row's values.
"""
