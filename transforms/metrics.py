"""The namespace of every Beam metric the job reports (``images_ok``, ``bytes_in`` ...)."""

__all__ = ["METRICS_NAMESPACE"]

#: Namespace of every Beam metric the pipeline reports.
METRICS_NAMESPACE = "semantic_compress"
