"""Run directory -> saturation curves, goodput, surge recovery and capacity plans.

Entry points: ``python -m analysis report RUN_DIR`` / ``compare BASE NEW`` (``__main__``),
and for notebooks ``io.load_run`` -> ``pipeline.analyse`` -> ``summary.build_summary``
(docs/analysis.md lists the whole API). Importing this package imports nothing else: each
module is imported on its own.
"""
