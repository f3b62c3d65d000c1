"""Code competitions: a package of runs and stacks to upload as a Kaggle dataset
(`build`), its manifest (`manifest`) and the wheels a kernel installs offline (`wheels`).

Nothing is imported here: a kernel reads the manifest (kfold.infer) without the packaging
code's imports (stacking, metrics)."""
