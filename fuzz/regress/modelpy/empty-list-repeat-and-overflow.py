x = [] * 2 ** 52
def model(idim):
    return 2 ** 5000
