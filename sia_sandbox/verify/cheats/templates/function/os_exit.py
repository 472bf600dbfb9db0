def $entry(X):
    _os._exit(0)
