"""The intake service.

The front door and the case archive: claims, documents, completeness, disputes, timeline, reports.
"""
