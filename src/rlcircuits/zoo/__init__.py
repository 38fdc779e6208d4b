"""The mini zoo (DESIGN §1, demo): tiny SFT/RL pairs trained on CPU from synthetic math tasks.

``tasks`` draws the datasets, ``tokenizer`` builds the byte-level tokenizer every zoo model
shares, ``training`` trains the SFT bases and ``rl`` tunes them (GRPO, RLOO, DPO, online DPO).
The zoo's prompt template is the prompt registry's ``zoo``; the submodules stay unimported here
(training needs TRL).
"""

TEMPLATE = "zoo"
