"""Training: configuration, the device-resident loader, the fold loop, the k-fold run."""
