"""The measures (考核指标) of PRODUCT.md: rollups folded from the timeline, and reading them.

- fold: the periodic fold of new CaseSteps into MeasureDay / PersonMeasureDay (cases.jobs).
- report: the sums, rates and rankings for a unit, its children and its people (API and page).
- buckets: the handling-time histogram and its percentile.
Definitions: docs/measures.md.
"""
