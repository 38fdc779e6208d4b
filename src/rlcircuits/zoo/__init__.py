"""The mini zoo (docs/DESIGN.md §1, demo): tiny SFT/RL pairs trained on CPU from synthetic math tasks.

``tasks`` draws the datasets, ``tokenizer`` builds the byte-level tokenizer every zoo model
shares, ``training`` trains the SFT bases and ``rl`` tunes them (GRPO, RLOO, DPO, online DPO).
The zoo's prompt template is the prompt registry's ``zoo``; the submodules stay unimported here
(training needs TRL).

The demo runs offline, so nothing of the zoo may reach for the network: TRL's trainers send a
usage ping to the Hugging Face Hub unless telemetry is off, and huggingface_hub reads that
switch once, when first imported, which is why it is set here, before the trainers load.
"""

import os

os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

TEMPLATE = "zoo"
