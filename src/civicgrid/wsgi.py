import importlib
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "civicgrid.settings")
application = get_wsgi_application()

# Routing's classifier needs scikit-learn and SciPy: seconds of imports that the first filing served
# by each worker used to wait for (and that showed as 16 % of a worker's time in a 20 s benchmark).
# A web worker loads them as it starts instead.
importlib.import_module("civicgrid.routing.classifier")
