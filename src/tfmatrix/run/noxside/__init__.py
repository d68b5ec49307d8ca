"""The nox side of a run: the options a session is given, what the noxfile knows once (the context and this
nox command's invocation), how nox is told a combination's end, and the one adapter to nox's internals."""
