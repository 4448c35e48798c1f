"""What goes into Temporal's history: converter, encryption codec, blob store, codec server."""
