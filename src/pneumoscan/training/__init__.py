"""Training: the ``train_model`` loop, the feature cache and whole training runs."""
