"""The paper's vocabulary in one place: its metrics, the direction it claims for each, the claims'
wording, the algorithm families the claims are about, and the one set of verdict words the page uses.

Plain Python (no numpy): the tables, the claims checklist, the study and the page all read it.
"""

from __future__ import annotations

# The circuit metrics of Table 1, in display order.
# Scale-free intensity is ours, not the paper's: raw intensity with each sample's own scale divided
# out (rlcircuits.metrics), so a model whose gradients or activations are merely rescaled cannot move it.
METRICS = ("intensity", "scale_free_intensity", "complexity", "kurtosis", "diversity")

# The paper's claims for online RL: which way each metric moves from base to RL (scale-free
# intensity: the paper's direction for intensity).
EXPECTED_DIRECTION = {"intensity": 1, "scale_free_intensity": 1, "complexity": 1, "kurtosis": -1, "diversity": 1}

# The claims checklist's online-RL rows: metric -> the claim as the page states it.
CLAIM_TEXTS = {
    "intensity": "Online RL raises activation intensity",
    "scale_free_intensity": "Online RL raises activation intensity relative to each sample's own scale",
    "complexity": "Online RL raises information complexity",
    "kurtosis": "Online RL lowers distribution kurtosis",
    "diversity": "Online RL raises inter-sample diversity",
}
DPO_CLAIM = "Offline DPO does not move the metrics as online RL does"

# The one set of verdicts, for the checklist and the study alike.
SUPPORTED = "supported"
CONTRADICTED = "contradicted"
INCONCLUSIVE = "inconclusive"
CANNOT_TELL = "the design cannot tell"
NO_DATA = "no data"
VERDICTS = (SUPPORTED, CONTRADICTED, INCONCLUSIVE, CANNOT_TELL)
VERDICT_MEANINGS = {
    SUPPORTED: "the data establish the claim at the stated level",
    CONTRADICTED: "the data establish the opposite at the stated level",
    INCONCLUSIVE: "the data could have settled it at the stated level but did not",
    CANNOT_TELL: "the design cannot establish this at the stated level, whatever the data",
}

# Algorithm families (a pair's `algorithm`, case-insensitive): a claim about online RL counts the
# online pairs of an RL family; the DPO claim the offline DPO pairs; continued SFT is the study's
# control and is never counted as RL or as DPO. A pair of an algorithm not named here is counted
# in no claim (the page lists it).
RL = "RL"
DPO = "DPO"
CONTROL = "control"
ALGORITHM_FAMILIES = {
    "grpo": RL,
    "ppo": RL,
    "rloo": RL,
    "dpo": DPO,
    "online dpo": DPO,
    "continued sft": CONTROL,
}
ONLINE_RL = "online RL"
OFFLINE_DPO = "offline DPO"
ONLINE_DPO = "online DPO"


def claim_group(algorithm: str, online: bool) -> str | None:
    """The group a pair counts in for the claims: online RL, offline DPO, online DPO, control, or None."""
    family = ALGORITHM_FAMILIES.get(str(algorithm).strip().lower())
    if family == RL:
        return ONLINE_RL if online else None
    if family == DPO:
        return ONLINE_DPO if online else OFFLINE_DPO
    return CONTROL if family == CONTROL else None


def intensity_survival(raw: str, scale_free: str) -> str:
    """Whether an intensity verdict survives dividing out each sample's own scale, in the page's words."""
    if raw == scale_free:
        return f"survives: raw and scale-free intensity both read “{raw}”"
    return (
        f"does not survive: raw intensity reads “{raw}”, scale-free intensity “{scale_free}” (what moved raw "
        "intensity may be the scale of gradients or activations, not the shape of the circuit)"
    )
