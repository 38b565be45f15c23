"""Weekly department rating: scoring, snapshots, reports (methodology: docs/rating.md)."""
