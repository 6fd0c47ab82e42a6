"""The whole flow on a laptop: embedded AWS (moto server), a local HTTP API and a Tableau emulator."""
