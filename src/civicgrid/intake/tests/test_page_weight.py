"""The report page's first load (HTML + CSS + JS, gzip) stays under 300 KB, Leaflet included."""

import pytest

from civicgrid.intake.bench import PAGE_BUDGET, page_weight


@pytest.mark.django_db
def test_report_page_weight(client, cats):
    sizes = page_weight(client)
    assert "/static/vendor/leaflet/leaflet.js" in sizes and "/static/intake/report.js" in sizes
    assert sum(sizes.values()) < PAGE_BUDGET, sizes
