"""One router per resource; ``faces/http/app.py`` includes them in spec order."""
