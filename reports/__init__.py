"""Reports: render a run folder into report.md, report.html and figures/*.png.

Reads only the files of the run folder (docs/architecture.md, "The run folder");
never trains and never imports TensorFlow. Matplotlib draws off-screen (no pyplot).
"""

from reports.loader import ReportError
from reports.render import render_report

__all__ = ["ReportError", "render_report"]
