import gc
import importlib
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "civicgrid.settings")
application = get_wsgi_application()

# Routing's classifier needs scikit-learn and SciPy: seconds of imports that the first filing served
# by each worker used to wait for (and that showed as 16 % of a worker's time in a 20 s benchmark).
# A web worker loads them as it starts instead.
importlib.import_module("civicgrid.routing.classifier")

# What a worker has loaded by now (Django, the apps, scikit-learn, SciPy: a few hundred thousand
# objects) lives as long as the process. Frozen, it is left out of the garbage collector's full
# passes, which otherwise walked all of it every few hundred requests, and more often under case
# steps, which allocate more than reads (gc.freeze, as Python's documentation suggests for servers;
# docs/performance.md, "api-lifecycle", item 13).
gc.collect()
gc.freeze()
