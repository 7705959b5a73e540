"""Sentence-to-graph retrieval (SGB's image_retrieval; the paper's Table 4).

``preprocess`` (scene graphs of a test run or the annotation + caption graphs -> retrieval
input), ``data`` (pairs, SGB's split, batches with negatives), ``model`` (SGB's graph and text
graph encoders, triplet loss), ``metrics`` (ranks, R@K, galleries), ``engine`` (training with
the package's trainer, testing). Captions of the synthetic benchmark:
``data.datasets.synthetic.caption_file``. See docs/RETRIEVAL.md.
"""
