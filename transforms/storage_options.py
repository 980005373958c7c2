"""fsspec storage options implied by Beam's own pipeline options (``--s3_*``), and back.

So that one set of flags configures both Beam's file systems (manifest, dead letters) and
fsspec (images, through :mod:`compress_core.storage`): ``--s3_endpoint_url`` and friends give
fsspec's ``s3`` options (:func:`storage_options_from_pipeline_options`), and ``--storage_options
'{"s3": {"endpoint_url": ...}}'`` alone gives Beam's (:func:`fill_pipeline_options`): given
only there, the images went to that endpoint and Beam wrote the manifest to AWS's, failing
after the work (or, with credentials there, to another store; cloud review 40).
"""
from __future__ import annotations

from typing import Any, Dict, Optional

from compress_core.storage import merge_storage_options

__all__ = ["storage_options_from_pipeline_options", "fill_pipeline_options"]

#: Beam's S3 options and the fsspec (s3fs) options that say the same: (Beam's attribute,
#: where s3fs reads it: a key of its options, or of their ``client_kwargs``).
_S3_PAIRS = (("s3_endpoint_url", ("endpoint_url",)),
             ("s3_endpoint_url", ("client_kwargs", "endpoint_url")),
             ("s3_access_key_id", ("key",)),
             ("s3_secret_access_key", ("secret",)),
             ("s3_session_token", ("token",)),
             ("s3_region_name", ("client_kwargs", "region_name")),
             ("s3_verify", ("client_kwargs", "verify")))


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


#: Beam's S3 options a job's console must not show.
_SECRETS = ("s3_secret_access_key", "s3_session_token")
#: Those copied only with the secrets (a key id without its secret signs nothing).
_CREDENTIALS = ("s3_access_key_id",) + _SECRETS


def _spelt(attribute: str, value: Any) -> Any:
    """``value`` as compared: an endpoint without its final ``/`` (``http://h:9000/`` is
    ``http://h:9000``: diff review 40)."""
    return value.rstrip("/") if attribute == "s3_endpoint_url" and isinstance(value, str) \
        else value


def _lookup(options: Dict[str, Any], where) -> Any:
    for key in where:
        if not isinstance(options, dict) or key not in options:
            return None
        options = options[key]
    return options


def fill_pipeline_options(options, storage_options, secrets: bool = True) -> Optional[str]:
    """Set Beam's ``--s3_*`` options that were not given from the fsspec ``s3`` options of
    ``storage_options`` (the job's ``--storage_options``), so that the manifest and the dead
    letters go to the store the images go to; the keys and the session token only with
    ``secrets`` (not on Dataflow, whose console shows a job's pipeline options: there Beam
    uses the usual credential chain). Returns why they cannot agree (a flag and a storage
    option that give two values: the images would go to one store, the manifest to the
    other), else ``None``."""
    from apache_beam.options.pipeline_options import S3Options

    s3fs_options = merge_storage_options(storage_options).get("s3", {})   # (s3a: s3's too)
    if not s3fs_options:
        return None
    beam_s3 = options.view_as(S3Options)
    for attribute, where in _S3_PAIRS:
        value = _lookup(s3fs_options, where)
        if value is None or (not secrets and attribute in _CREDENTIALS):
            continue
        given = getattr(beam_s3, attribute, None)
        if given is None:
            setattr(beam_s3, attribute, value)
        elif _spelt(attribute, given) != _spelt(attribute, value):
            shown = "(hidden)" if attribute in _SECRETS else repr(value)
            return (f"--{attribute} and --storage_options' s3 {'.'.join(where)} {shown} "
                    "differ: the images would go to one S3 store and the manifest to the "
                    "other; give one of them")
    if s3fs_options.get("use_ssl") is False and not beam_s3.s3_disable_ssl:
        beam_s3.s3_disable_ssl = True
    return None
