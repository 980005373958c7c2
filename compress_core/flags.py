"""Command-line flags generated from the option table (:data:`compress_core.request.OPTIONS`).

Two spellings share one table: the command line (``style="cli"``: ``--target-bytes``, every
option, masks as image files) and the batch job (``style="job"``: ``--target_bytes``, only the
options that apply to a whole batch). Flags parse types only (int, float, the accepted names);
values are checked once, by :class:`~compress_core.request.CompressRequest`. Every flag
defaults to ``None`` (``preserve_aspect`` to ``True``), so the request's defaults are the only
ones; the help shows them.
"""
from __future__ import annotations

import argparse
import re
from typing import Any, Dict, List, Optional

from .request import OPTIONS, QUALITY_WORDS, Option

__all__ = ["OneLineParser", "BuildVersion", "add_option_flags", "option_values", "flag_name",
           "spellings", "spelled_otherwise", "in_flags", "any_case"]

_STYLES = ("cli", "job")


class BuildVersion(argparse.Action):
    """``--version``: the build, the version and a fingerprint of the code and codecs (what a
    manifest row's ``library_version`` says), so that a report names exactly what ran; read
    only when asked (it hashes the library's files), not at every start."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS,
                 help=None):
        super().__init__(option_strings, dest, nargs=0, default=default, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        from ._version import build_id

        print(f"{parser.prog} {build_id()}")   # (on stdout, as argparse's own version)
        parser.exit()


class OneLineParser(argparse.ArgumentParser):
    """argparse whose errors are one line on stderr (``prog: error: ...``), exit status 2.
    ``own_flags``: the spellings of the flags its builder added beside the option table's
    (the command line's ``--json``, ``-q`` ...), where the builder records them;
    ``table_flags``: ``{spelling: flag}`` for the option table's flags that
    :func:`add_option_flags` added, and their other spellings (:func:`spelled_otherwise`).
    An unrecognized flag close to one of them is answered with it: ``--target-widht`` and the
    job's ``--target_width`` were "unrecognized arguments" and no more."""

    own_flags: frozenset = frozenset()
    table_flags: Dict[str, str] = {}

    def error(self, message):  # noqa: D102
        if message.startswith(_UNRECOGNIZED):
            message += self.meant(message[len(_UNRECOGNIZED):].split())
        self.exit(2, f"{self.prog}: error: {message}\n")

    def meant(self, arguments: List[str]) -> str:
        """`` (did you mean --x?)`` for the first of ``arguments`` (those argparse did not
        recognize) that is another spelling of one of this parser's flags or close to one
        (difflib, cutoff 0.8); ``""`` where none is."""
        import difflib

        known = {**{flag: flag for flag in self.own_flags if flag.startswith("--")},
                 **self.table_flags}
        for argument in arguments:
            name = argument.split("=", 1)[0]
            if not name.startswith("--") or len(name) < 4:
                continue
            close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.8)
            if close:
                return f" (did you mean {known[close[0]]}?)"
        return ""


_UNRECOGNIZED = "unrecognized arguments: "   # (argparse's words for flags it does not know)


def flag_name(opt: Option, style: str) -> str:
    """The flag that sets ``opt`` (``--max-stretch`` / ``--max_stretch``)."""
    if style == "job":
        return f"--{opt.job_flag or opt.name}"
    return "--" + opt.name.replace("_", "-")


def spellings(opt: Option, style: str) -> List[str]:
    """Every flag of ``opt`` in ``style`` (``--target-width``, ``--width``; a bool's negation)."""
    name = flag_name(opt, style)
    names = [*(opt.short if style == "cli" else ()), name]
    if opt.kind == "bool":
        names.append("--no-" + opt.name.replace("_", "-") if style == "cli"
                     else f"--no_{opt.name}")
    return names


def spelled_otherwise(opt: Option, style: str) -> Dict[str, str]:
    """``{spelling: flag of style}`` for the spellings of ``opt`` that are not ``style``'s:
    the other style's (``--target_width`` for the command line's ``--target-width``, ``--width``
    for the job's ``--target_width``) and ``style``'s own with ``-`` and ``_`` swapped."""
    other = "job" if style == "cli" else "cli"
    mine, theirs = spellings(opt, style), spellings(opt, other)
    out = {spelling: flag_name(opt, style) for spelling in theirs}
    if opt.kind == "bool":
        out[theirs[-1]] = mine[-1]   # --no-preserve-aspect: --no_preserve_aspect
    swapped = ("-", "_") if style == "cli" else ("_", "-")
    out.update({"--" + flag[2:].replace(*swapped): flag for flag in mine
                if flag.startswith("--")})
    return {spelling: flag for spelling, flag in out.items() if spelling not in mine}


def _offered(opt: Option, style: str) -> bool:
    return style == "cli" or opt.batch


def _quality(text: str):
    word = text.strip().lower()
    if word in QUALITY_WORDS:
        return word
    try:
        return int(text)
    except ValueError:
        accepted = "an integer" + "".join(f" or {w!r}" for w in QUALITY_WORDS)
        raise argparse.ArgumentTypeError(f"expected {accepted}, got {text!r}") from None


def any_case(choices):
    """An argparse ``type``: a name of ``choices`` as the option table spells it, whatever the
    case typed (``--format JPEG`` was refused where ``--quality AUTO`` ran) and with ``-`` for
    ``_`` (``-m seam-carving``, which the library's
    :func:`~compress_core.options.parse_option` takes, was refused: options review 41);
    another is refused as typed (``'JEPG'``, not ``'jepg'``: diff review 39)."""
    spelt = {c.replace("-", "_"): c for c in choices}

    def name(text: str) -> str:
        word = spelt.get(text.strip().lower().replace("-", "_"))
        if word is None:
            raise argparse.ArgumentTypeError(
                f"invalid choice: {text!r} (choose from {', '.join(map(repr, choices))})")
        return word
    return name


def _help(opt: Option, style: str) -> str:
    text = opt.help.format_map({o.name: flag_name(o, style) for o in OPTIONS})
    default = opt.default
    if opt.kind in ("bool", "mask") or default is None:
        return text
    return f"{text} (default: {default})"


def add_option_flags(parser: argparse.ArgumentParser, style: str,
                     group: Optional[Any] = None) -> None:
    """Add a flag for every option of ``style`` to ``parser``.

    Parameters
    ----------
    parser : argparse.ArgumentParser
    style : {"cli", "job"}
    group : argparse argument group, optional
        Where the flags go; by default one group per :attr:`Option.group` title.
    """
    if style not in _STYLES:
        raise ValueError(f"style must be one of {_STYLES}; got {style!r}")
    groups: Dict[str, Any] = {}
    table = {}
    for opt in OPTIONS:
        if not _offered(opt, style):
            continue
        table.update(spelled_otherwise(opt, style))
        table.update({flag: flag for flag in spellings(opt, style) if flag.startswith("--")})
        where = group
        if where is None:
            where = groups.get(opt.group) or groups.setdefault(
                opt.group, parser.add_argument_group(opt.group))
        names = spellings(opt, style)
        if opt.kind == "bool":
            *name, negative = names
            both = where.add_mutually_exclusive_group()
            text = _help(opt, style)
            both.add_argument(*name, dest=opt.name, action="store_true", default=opt.default,
                              help=f"{text} (default)" if opt.default else text)
            both.add_argument(negative, dest=opt.name, action="store_false",
                              help=f"do not {text.split(';')[0]}")
            continue
        kwargs: Dict[str, Any] = dict(dest=opt.name, default=None, help=_help(opt, style))
        if opt.metavar:
            kwargs["metavar"] = opt.metavar
        if opt.kind == "int":
            kwargs["type"] = int
        elif opt.kind == "float":
            kwargs["type"] = float
        elif opt.kind == "choice":
            kwargs["choices"] = opt.choices()
            if all(c == c.lower() for c in kwargs["choices"]):
                kwargs["type"] = any_case(kwargs["choices"])
        elif opt.kind == "quality":
            kwargs["type"] = _quality
        where.add_argument(*names, **kwargs)
    parser.table_flags = {**getattr(parser, "table_flags", {}), **table}


def option_values(args: argparse.Namespace, style: str) -> Dict[str, Any]:
    """The request's keyword arguments from parsed flags (unset flags are left out)."""
    out = {}
    for opt in OPTIONS:
        if _offered(opt, style) and opt.kind != "mask":
            value = getattr(args, opt.name, None)
            if value is not None:
                out[opt.name] = value
    return out


def in_flags(message: str, style: str) -> str:
    """A request's error ``message`` (written with the library's parameter names) in the flags
    of ``style``: ``method='jpeg'`` -> ``--method jpeg``, ``target_width`` ->
    ``--target-width`` (``--target_width`` for the job; ``max_seconds`` ->
    ``--max_seconds_per_image``). A name without an underscore is a word of the sentence too
    (``format``, ``quality``): it becomes a flag only where it stands as a name, with a value
    (``quality=101``), at the start of the message (``scale must be ...``) or in a list
    (``: scale, target_width``). Options the style has no flag for keep their names."""
    names = {opt.name: opt for opt in OPTIONS if _offered(opt, style)}
    alternatives = "|".join(sorted(map(re.escape, names), key=len, reverse=True))

    def with_value(match: "re.Match") -> str:
        opt, value = names[match.group(1)], match.group(2)
        value = value[1:-1] if value[:1] in "'\"" and value[-1:] == value[:1] else value
        if opt.kind == "bool" and value in ("True", "False"):
            return spellings(opt, style)[-1 if value == "False" else -2]
        return f"{flag_name(opt, style)} {value}"

    # (never inside a path: a folder named scale=0.5/ or max_dimension/ stays as it is)
    message = re.sub(rf"(?<![\w./\\-])({alternatives})=('[^']*'|\"[^\"]*\"|[^\s,;)/\\]+)"
                     rf"(?![^\s,;)])", with_value, message)
    named = "|".join(sorted((re.escape(n) for n in names if "_" in n), key=len, reverse=True))
    if named:
        message = re.sub(rf"(?<![\w.'/\\-])({named})(?![\w(=/\\-]|\.\w)",
                         lambda m: flag_name(names[m.group(1)], style), message)
    words = "|".join(sorted((re.escape(n) for n in names if "_" not in n), key=len, reverse=True))
    return re.sub(rf"(^|: |, |\()({words})(?=,| or | must | and |\)|;|$)",
                  lambda m: m.group(1) + flag_name(names[m.group(2)], style), message)
