"""Exception types the CLIs turn into one clear line on stderr (and a non-zero exit)."""


class RLCircuitsError(Exception):
    """Base class: an error caused by the user's input, not a bug in the artifact."""


class ModelLoadError(RLCircuitsError):
    """A model or tokenizer could not be loaded (missing folder, unknown Hub id, offline)."""


class UnsupportedArchitecture(RLCircuitsError):
    """The decoder is not the pre-norm structure the attribution graph assumes."""


class InputFormatError(RLCircuitsError):
    """An input file is malformed; the message names the file and the key or line at fault."""


class AttributionError(RLCircuitsError):
    """Attribution produced or would produce invalid scores (non-finite, bad token ids)."""
