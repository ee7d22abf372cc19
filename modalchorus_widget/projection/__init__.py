"""2-D projections behind one ``Projector`` interface (MFM and the baselines), their quality metrics, and
the concept axis."""
