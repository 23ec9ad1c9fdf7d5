"""The model stage: features, the specification search, the candidates and benchmark, the choice, checks, effects and the model file."""
