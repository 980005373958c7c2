"""Naming the settings of the ``params`` column (canonical JSON of every setting) by what
differs between the settings of a report, for its per-settings table."""
from __future__ import annotations

import json
from typing import Dict, Iterable, Optional

__all__ = ["settings_labels", "NOT_RECORDED"]

#: The label of rows without ``params`` (manifests that did not record it).
NOT_RECORDED = "(settings not recorded)"
#: Shown when one setting is read (nothing differs): the settings that say most.
_HEADLINE = ("method", "format", "quality", "target_quality", "target_bytes")


def _value(v) -> str:
    if v is None:
        return "none"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, (dict, list)):
        return json.dumps(v, separators=(",", ":"), sort_keys=True)
    return str(v)


def _parsed(params: str) -> Optional[dict]:
    try:
        value = json.loads(params)
    except (TypeError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def settings_labels(params: Iterable[Optional[str]]) -> Dict[Optional[str], str]:
    """``{params: label}``: each distinct ``params`` named by the settings whose values differ
    among them (``format=webp, target_quality=80``); with one setting, by its headline
    settings that are set. Unparseable values are shown as they are."""
    distinct = list(dict.fromkeys(params))
    parsed = {p: _parsed(p) for p in distinct if p is not None}
    dicts = [d for d in parsed.values() if d is not None]
    keys = sorted({k for d in dicts for k in d})
    differ = [k for k in keys if len({_value(d.get(k)) for d in dicts}) > 1]
    labels: Dict[Optional[str], str] = {}
    for p in distinct:
        d = parsed.get(p)
        if p is None:
            labels[p] = NOT_RECORDED
        elif d is None:
            labels[p] = p[:80]
        elif any(k in d for k in differ):   # (a key a setting lacks, not "none": a format
            # that has no photo_format, a release's params before the key: its default then)
            labels[p] = ", ".join(f"{k}={_value(d[k])}" for k in differ if k in d)
        else:
            labels[p] = ", ".join(f"{k}={_value(d[k])}" for k in _HEADLINE
                                  if d.get(k) is not None) or "default settings"
    return labels
