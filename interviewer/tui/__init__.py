"""The Textual interface: a thin shell over the headless session engine.

``make_app`` (in ``interviewer.tui.app``) builds the app for the CLI and the
tests. Nothing here imports torch, whisper or a sound library at import time.
"""
