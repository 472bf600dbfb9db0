def $entry(X):
    while True:
        pass
