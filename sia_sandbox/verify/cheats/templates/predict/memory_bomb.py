def fit(examples):
    pass


def $entry(cases):
    hog = []
    while True:
        hog.append(bytearray(64 << 20))
