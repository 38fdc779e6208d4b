"""Grading (docs/DESIGN.md §1 step 2): extract each answer's final result and judge it against the gold.

One module per seam: ``extraction`` (the rules that find the final answer in a text),
``equivalence`` (math-verify's judgement on both sides as one LaTeX expression), ``pool``
(worker processes that enforce a hard per-answer time limit, since math-verify can hang and its
own SIGALRM timeouts do not work in threads) and ``records`` (the grade stage on generation
records). Table 4 is built from the graded files in rlcircuits.tables.
"""
