"""Exception types the CLIs turn into one clear line on stderr (and a non-zero exit).

Only these are the user's fault; anything else (a ValueError from numpy, a bug) keeps its traceback.
"""


class RLCircuitsError(Exception):
    """Base class: an error caused by the user's input, not a bug in the artifact."""


class SettingsError(RLCircuitsError, ValueError):
    """A setting (a CLI option, a config key) is out of range or names nothing known.

    Also a ValueError, so callers of the library that catch the bad value's usual type still do.
    """


class ModelLoadError(RLCircuitsError):
    """A model or tokenizer could not be loaded (missing folder, unknown Hub id, offline)."""


class UnsupportedArchitecture(RLCircuitsError):
    """The decoder is not the pre-norm structure the attribution graph assumes."""


class InputFormatError(RLCircuitsError):
    """An input file is malformed; the message names the file and the key or line at fault."""


class AttributionError(RLCircuitsError):
    """Attribution produced or would produce invalid scores (non-finite, bad token ids)."""
