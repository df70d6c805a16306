"""Worker processes the run hands work to while it goes on (the bottom layer: it imports none
of the project's packages)."""
