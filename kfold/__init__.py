"""kfold: stratified k-fold CNN training, stacking and Kaggle submissions."""

__version__ = "0.1.0"
