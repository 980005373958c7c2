"""fsspec storage options implied by Beam's own pipeline options (``--s3_*``).

So that one set of flags configures both Beam's file systems (manifest, dead letters) and
fsspec (images, through :mod:`compress_core.storage`).
"""
from __future__ import annotations

from typing import Any, Dict

__all__ = ["storage_options_from_pipeline_options"]


def storage_options_from_pipeline_options(options) -> Dict[str, Dict[str, Any]]:
    """``{"s3": {...}}`` from ``--s3_endpoint_url`` and friends (empty when none is set).

    Parameters
    ----------
    options : apache_beam.options.pipeline_options.PipelineOptions or None

    Returns
    -------
    dict
        ``{protocol: {fsspec keyword: value}}``, for
        :func:`compress_core.storage.merge_storage_options`.
    """
    if options is None:
        return {}
    from apache_beam.options.pipeline_options import S3Options

    s3 = options.view_as(S3Options)
    s3_opts: Dict[str, Any] = {}
    if s3.s3_endpoint_url:
        s3_opts["endpoint_url"] = s3.s3_endpoint_url
    if s3.s3_access_key_id:
        s3_opts["key"] = s3.s3_access_key_id
    if s3.s3_secret_access_key:
        s3_opts["secret"] = s3.s3_secret_access_key
    if s3.s3_session_token:
        s3_opts["token"] = s3.s3_session_token
    if s3.s3_region_name:
        s3_opts.setdefault("client_kwargs", {})["region_name"] = s3.s3_region_name
    if s3.s3_verify is not None:
        s3_opts.setdefault("client_kwargs", {})["verify"] = s3.s3_verify
    if s3.s3_disable_ssl:
        s3_opts["use_ssl"] = False
    return {"s3": s3_opts} if s3_opts else {}
