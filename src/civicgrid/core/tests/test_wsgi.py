"""The web worker's entry point (gunicorn civicgrid.wsgi)."""

import os
import subprocess
import sys


def test_a_worker_starts_with_what_it_loaded_frozen_and_the_classifier_imported():
    """What a worker loads as it starts stays out of the garbage collector's full passes (gc.freeze),
    and routing's classifier (scikit-learn, SciPy) is among it, not imported by the first filing."""
    probe = (
        "import gc, sys\n"
        "import civicgrid.wsgi\n"
        "print(gc.get_freeze_count(), 'sklearn' in sys.modules, callable(civicgrid.wsgi.application))\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "civicgrid.settings", "CIVICGRID_LOG_LEVEL": "ERROR"}
    done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    frozen, sklearn, application = done.stdout.split()
    assert int(frozen) > 50_000 and sklearn == "True" and application == "True"
