"""The token broker Lambda: POST /token returns a scoped Tableau connected-app JWT for the caller."""
