"""The layers of a run: each reacts to intervals and returns a typed LayerOutput."""
