"""The secret rotation Lambda: Secrets Manager's four-step rotation of the Tableau connected-app secret."""
