"""The WSGI entry point: `gunicorn wsgi:app`."""
from webapp import config, create_app

config.load_or_exit()  # a missing or malformed setting ends the process with one message, not a traceback
app = create_app()
