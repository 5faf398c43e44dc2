"""Audit Workbench: test identity and access controls for SOC 2 and SOX with re-performable evidence.

The package holds all the logic; the notebooks under ``workbench/notebooks/`` (shipped
with the package) only call into it.
Modules, one concept each: ``parameters`` (the period's YAML), ``populations`` (exports to canonical
tables with completeness and accuracy evidence), ``analytics`` (full-population rules),
``sampling`` (sizing, selection, evaluation), ``exceptions`` (the exception register),
``procedures`` (one module per control family), ``workpapers`` (notebook display, HTML, index),
``lineage`` (hashes and manifest), ``runner`` (a period run), ``demo`` (the demo company), ``cli``.
"""

__version__ = "0.1.0"
