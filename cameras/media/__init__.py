"""Reading camera media: probing streams for health, codec and a snapshot."""
