"""The weekly report: numbers, Markdown, charts, ISO weeks, and the result-tree views."""
