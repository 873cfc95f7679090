"""What gunicorn serves: `taskyard_api.wsgi:app`."""

from taskyard_api import create_app

app = create_app()
