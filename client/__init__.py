"""The HTTP API's client: `client.api` (requests) and the `dcoe` client commands (`client.cli`)."""
