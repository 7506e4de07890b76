"""A small multi-agent app the patching tests instrument by import path, untouched."""
