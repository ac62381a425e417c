"""Renderers, one module per channel: each turns an Alert, a Digest or a Notice into what its sink sends."""
