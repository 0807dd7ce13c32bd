def model(idim):
    x = [1, 2][10 ** 30]
