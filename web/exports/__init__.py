"""CSV exports: one writer (``csv_writer``) and one module per exported table.

The API routes, the dashboard's "Export CSV" links and ``reasonlens export`` all go
through these modules, so a file reads the same whichever door it left by.
"""
