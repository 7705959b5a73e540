"""The embedded synthetic benchmark: rendered scenes written as VG150 files.

Entry points: ``generate.generate_dataset`` (what ``tools/make_synthetic_vg.py`` calls),
``generate.synthesize_images`` (the records without pixels), ``rules`` (the scene rules as
data), ``annotation`` (the simulated annotator), ``oracle.run_oracle`` (the oracle check of
``tools/oracle_synthetic.py``). See docs/SYNTHETIC.md.
"""
