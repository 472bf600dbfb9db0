def $entry(data):
    while True:
        pass
