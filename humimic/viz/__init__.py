"""Pictures people would rather look at than read: offscreen videos and report plots."""
