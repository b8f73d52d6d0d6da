"""The audit log as one self-contained HTML page: the summary, the charts, the page and its CSS and JS."""
