"""The core: typed, pure stages of the pipeline (never imports workers/, Celery or Redis; reads no environment)."""
