from reasonlens.cli import app

app(prog_name="reasonlens")
