def $entry(data):
    hog = []
    while True:
        hog.append(bytearray(64 << 20))
